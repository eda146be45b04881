function num(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  return String(n);
}

const keyCache = new Map<string, string>();

function key(k: string): string {
  let s = keyCache.get(k);
  if (s === undefined) {
    s = JSON.stringify(k);
    if (keyCache.size < 10_000) keyCache.set(k, s);
  }
  return s;
}

/**
 * {@link toExtendedJson} of `{...values, ...tail}` without building the merged object (the
 * history row fast path); keys of `tail` win.
 */
export function rowJson(values: Record<string, unknown>, tail: Record<string, number>): string {
  let out = '{';
  for (const k in values) {
    const v = values[k];
    if (v === undefined || k in tail) continue;
    if (out.length > 1) out += ',';
    out += `${key(k)}:${typeof v === 'number' ? num(v) : toExtendedJson(v)}`;
  }
  for (const k in tail) {
    if (out.length > 1) out += ',';
    out += `${key(k)}:${num(tail[k] as number)}`;
  }
  return `${out}}`;
}

/**
 * JSON with W&B's extended number tokens: NaN and ±Infinity become the bare tokens `NaN`,
 * `Infinity`, `-Infinity` (where `JSON.stringify` would write `null`). Undefined members are
 * left out, as in JSON.
 */
export function toExtendedJson(value: unknown): string {
  if (typeof value === 'number') return num(value);
  if (value === null || typeof value !== 'object') {
    return typeof value === 'bigint' ? value.toString() : (JSON.stringify(value) ?? 'null');
  }
  if (Array.isArray(value)) return `[${value.map((v) => toExtendedJson(v ?? null)).join(',')}]`;
  const parts: string[] = [];
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === undefined || typeof v === 'function') continue;
    parts.push(`${JSON.stringify(k)}:${toExtendedJson(v)}`);
  }
  return `{${parts.join(',')}}`;
}

const TOKENS: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };

/** Parses JSON that may hold the bare tokens `NaN`, `Infinity` and `-Infinity` outside strings. */
export function parseExtendedJson(text: string): unknown {
  const marker = '\u0000xnum:';
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      inString = true;
      out += c;
      continue;
    }
    const m = /^(-Infinity|Infinity|NaN)/.exec(text.slice(i, i + 9));
    if (m !== null) {
      out += JSON.stringify(marker + (m[1] as string));
      i += (m[1] as string).length - 1;
      continue;
    }
    out += c;
  }
  return JSON.parse(out, (_k, v: unknown) =>
    typeof v === 'string' && v.startsWith(marker) ? TOKENS[v.slice(marker.length)] : v,
  );
}
