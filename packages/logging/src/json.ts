import { isTensorLike } from './arrays.js';

function num(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  return JSON.stringify(x);
}

function write(v: unknown, out: string[]): void {
  if (v === null || v === undefined) out.push('null');
  else if (typeof v === 'number') out.push(num(v));
  else if (typeof v === 'bigint') out.push(v.toString());
  else if (typeof v === 'string' || typeof v === 'boolean') out.push(JSON.stringify(v));
  else if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    const a = v as unknown as ArrayLike<number | bigint>;
    out.push('[');
    for (let i = 0; i < a.length; i++) {
      if (i > 0) out.push(',');
      const x = a[i] as number | bigint;
      out.push(typeof x === 'bigint' ? x.toString() : num(x));
    }
    out.push(']');
  } else if (Array.isArray(v)) {
    out.push('[');
    v.forEach((x: unknown, i) => {
      if (i > 0) out.push(',');
      write(x === undefined || typeof x === 'function' ? null : x, out);
    });
    out.push(']');
  } else if (isTensorLike(v)) {
    write(typeof v.arraySync === 'function' ? v.arraySync() : v.dataSync(), out);
  } else if (v instanceof Date) out.push(JSON.stringify(v.toISOString()));
  else if (typeof v === 'object') {
    out.push('{');
    let first = true;
    for (const [k, x] of Object.entries(v)) {
      if (x === undefined || typeof x === 'function' || typeof x === 'symbol') continue;
      if (!first) out.push(',');
      first = false;
      out.push(JSON.stringify(k), ':');
      write(x, out);
    }
    out.push('}');
  } else out.push('null');
}

/**
 * JSON text of a value with NaN and ±Infinity kept as the bare tokens `NaN`, `Infinity`,
 * `-Infinity` (as Python's `json` and W&B write them; `JSON.stringify` would give `null`).
 * Typed arrays and tensors (`dataSync`) become arrays.
 */
export function stringifyJson(value: unknown): string {
  const out: string[] = [];
  write(value, out);
  return out.join('');
}

const SENTINEL = '\ue000x-json-token:';

/** Parses JSON text that may hold the bare tokens `NaN`, `Infinity`, `-Infinity`. */
export function parseJson(text: string): unknown {
  let out = '';
  let i = 0;
  let last = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
      continue;
    }
    let token: string | undefined;
    if (c === 'N' && text.startsWith('NaN', i)) token = 'NaN';
    else if (c === 'I' && text.startsWith('Infinity', i)) token = 'Infinity';
    else if (c === '-' && text.startsWith('-Infinity', i)) token = '-Infinity';
    if (token !== undefined) {
      out += `${text.slice(last, i)}"${SENTINEL}${token}"`;
      i += token.length;
      last = i;
      continue;
    }
    i++;
  }
  out += text.slice(last);
  return JSON.parse(out, (_k, v: unknown) => {
    if (typeof v === 'string' && v.startsWith(SENTINEL)) return Number(v.slice(SENTINEL.length));
    return v;
  });
}
