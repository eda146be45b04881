import { XError } from '@x/core';

/** A JSON value as parsed by {@link parseStrictJson}. */
export type JsonValue =
  null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

const MAX_DEPTH = 64;

/**
 * Parses JSON text strictly: duplicate object keys, trailing garbage (other than spaces) and
 * nesting deeper than 64 are errors (`INVALID_INPUT`, prefixed by `source`). Used for
 * untrusted headers, where `JSON.parse` would silently keep the last of duplicate keys.
 */
export function parseStrictJson(text: string, source: string): JsonValue {
  let i = 0;
  const fail = (what: string): never => {
    throw new XError('INVALID_INPUT', `${source}: invalid JSON at offset ${i}: ${what}`);
  };
  const ws = () => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
  };
  const str = (): string => {
    const start = i;
    i++;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        try {
          return JSON.parse(text.slice(start, i)) as string;
        } catch {
          return fail('bad string escape');
        }
      }
      if (c === 0x5c) i += 2;
      else if (c < 0x20) return fail('control character in string');
      else i++;
    }
    return fail('unterminated string');
  };
  const num = (): number => {
    const m = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    m.lastIndex = i;
    const r = m.exec(text);
    if (r === null) return fail('unexpected character');
    i += r[0].length;
    return Number(r[0]);
  };
  const lit = (word: string, value: JsonValue): JsonValue => {
    if (text.startsWith(word, i)) {
      i += word.length;
      return value;
    }
    return fail('unexpected character');
  };
  const value = (depth: number): JsonValue => {
    if (depth > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`);
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const out: Record<string, JsonValue> = Object.create(null) as Record<string, JsonValue>;
      const seen = new Set<string>();
      ws();
      if (text[i] === '}') {
        i++;
        return out;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a key');
        const key = str();
        if (seen.has(key)) fail(`duplicate key ${JSON.stringify(key)}`);
        seen.add(key);
        ws();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        out[key] = value(depth + 1);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return out;
        } else fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      i++;
      const out: JsonValue[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return out;
      }
      for (;;) {
        out.push(value(depth + 1));
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return out;
        } else fail("expected ',' or ']'");
      }
    }
    if (c === '"') return str();
    if (c === 't') return lit('true', true);
    if (c === 'f') return lit('false', false);
    if (c === 'n') return lit('null', null);
    if (c === undefined) return fail('unexpected end');
    return num();
  };
  const result = value(0);
  while (i < text.length && text.charCodeAt(i) === 0x20) i++;
  if (i !== text.length) fail('trailing characters after the JSON value');
  return result;
}
