import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { XError } from './errors.js';
import { setOwn } from './state.js';
import { suggest } from './suggest.js';

type Issue = z.core.$ZodIssue;

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null)
    return String(value);
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function dotted(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '<root>' : path.map(String).join('.');
}

interface ZodInternals {
  _zod?: { def?: Record<string, unknown> };
}

function leafSchemaAt(schema: unknown, path: readonly PropertyKey[]): unknown {
  let node = schema as ZodInternals | undefined;
  const unwrap = () => {
    for (let i = 0; i < 10 && node?._zod?.def?.['innerType'] !== undefined; i++) {
      node = node._zod.def['innerType'] as ZodInternals;
    }
  };
  unwrap();
  for (const key of path) {
    const def = node?._zod?.def;
    if (def === undefined) return undefined;
    if (def['type'] === 'object')
      node = (def['shape'] as Record<string, ZodInternals>)[String(key)];
    else if (def['type'] === 'array') node = def['element'] as ZodInternals;
    else if (def['type'] === 'record') node = def['valueType'] as ZodInternals;
    else return undefined;
    unwrap();
  }
  return node;
}

function isIntSchema(schema: unknown): boolean {
  const checks = (schema as ZodInternals | undefined)?._zod?.def?.['checks'];
  if (!Array.isArray(checks)) return false;
  return checks.some((c: ZodInternals) => {
    const format = c._zod?.def?.['format'];
    return typeof format === 'string' && format.includes('int');
  });
}

function describeIssue(issue: Issue, integer: boolean): string {
  const got = `, got ${show((issue as { input?: unknown }).input)}`;
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${issue.expected}${got}`;
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'number' || issue.origin === 'int' || issue.origin === 'bigint') {
        const what = integer ? 'integer' : 'number';
        if (min === 0 && !issue.inclusive) return `expected positive ${what}${got}`;
        return `expected ${what} ${issue.inclusive ? '>=' : '>'} ${min}${got}`;
      }
      return `expected at least ${min} ${issue.origin === 'string' ? 'characters' : 'items'}${got}`;
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (issue.origin === 'number' || issue.origin === 'int' || issue.origin === 'bigint') {
        return `expected ${integer ? 'integer' : 'number'} ${issue.inclusive ? '<=' : '<'} ${max}${got}`;
      }
      return `expected at most ${max} ${issue.origin === 'string' ? 'characters' : 'items'}${got}`;
    }
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(' | ')}${got}`;
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
    case 'invalid_format':
      return `expected ${issue.format}${got}`;
    case 'not_multiple_of':
      return `expected a multiple of ${String(issue.divisor)}${got}`;
    case 'custom':
    case 'invalid_element':
    case 'invalid_key':
    case 'invalid_union':
      return issue.message;
  }
}

/**
 * Turns zod issues into one readable line each: `a.b.c: expected positive integer, got -3`.
 * Unknown keys are named by their full dotted path.
 */
export function formatIssues(issues: readonly Issue[], schema?: unknown): string[] {
  return issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      const def = (leafSchemaAt(schema, issue.path) as ZodInternals | undefined)?._zod?.def;
      const known = def?.['type'] === 'object' ? Object.keys(def['shape'] as object) : [];
      return issue.keys
        .map((k) => {
          const s = suggest(k, known);
          const hint = s === undefined ? '' : ` (did you mean '${dotted([...issue.path, s])}'?)`;
          return `${dotted([...issue.path, k])}: unknown key${hint}`;
        })
        .join('; ');
    }
    const integer = schema !== undefined && isIntSchema(leafSchemaAt(schema, issue.path));
    return `${dotted(issue.path)}: ${describeIssue(issue, integer)}`;
  });
}

/**
 * Validates `value` with a zod schema once, at the boundary. On failure throws
 * `INVALID_CONFIG` whose message lists every problem with its dotted key path, prefixed by
 * `source` (e.g. the config file).
 *
 * @example
 * const cfg = parseConfig(TrainSchema, raw, 'run.yaml');
 */
export function parseConfig<T extends z.ZodType>(
  schema: T,
  value: unknown,
  source?: string,
): z.output<T> {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  const lines = formatIssues(result.error.issues, schema);
  const where = source === undefined ? 'invalid config' : `invalid config in ${source}`;
  throw new XError('INVALID_CONFIG', `${where}: ${lines.join('; ')}`, {
    cause: result.error,
    details: { issues: lines, source },
  });
}

/**
 * Parses YAML text safely (no custom tags, no code execution, duplicate keys rejected).
 * Errors name the source, line and column.
 */
export function parseYaml(text: string, source = '<yaml>'): unknown {
  let doc: ReturnType<typeof parseDocument>;
  try {
    doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true, customTags: [] });
  } catch (err) {
    throw yamlLimit(err, source);
  }
  const err = doc.errors[0] ?? doc.warnings[0];
  if (err !== undefined) {
    const pos = err.linePos ? `:${err.linePos[0].line}:${err.linePos[0].col}` : '';
    const first = err.message.split('\n')[0] ?? err.message;
    const text = /call stack/i.test(first)
      ? 'nested too deeply to parse'
      : first.replace(/ at line \d+, column \d+:?$/, '');
    throw new XError('INVALID_CONFIG', `${source}${pos}: ${text}`, { cause: err });
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (err) {
    throw yamlLimit(err, source);
  }
  const depth = nestingDepth(value, MAX_NESTING);
  if (depth > MAX_NESTING) {
    throw new XError(
      'INVALID_CONFIG',
      `${source}: nested more than ${MAX_NESTING} levels deep; a config never is`,
    );
  }
  return value;
}

/** Aliases a YAML document may expand (the `yaml` library's `maxAliasCount`). */
const MAX_YAML_ALIASES = 100;
/** Deepest nesting accepted in a config (maps and lists). */
const MAX_NESTING = 64;
/** Largest config file read (configs are a few KiB). */
export const MAX_CONFIG_BYTES = 1 << 20;

function nestingDepth(v: unknown, limit: number, depth = 0): number {
  if (depth > limit || v === null || typeof v !== 'object') return depth;
  let max = depth;
  for (const x of Object.values(v as Record<string, unknown>)) {
    max = Math.max(max, nestingDepth(x, limit, depth + 1));
    if (max > limit) break;
  }
  return max;
}

function yamlLimit(err: unknown, source: string): XError {
  const msg = (err as Error).message ?? String(err);
  if (err instanceof RangeError) {
    return new XError('INVALID_CONFIG', `${source}: nested too deeply to parse`, { cause: err });
  }
  if (/alias/i.test(msg)) {
    return new XError(
      'INVALID_CONFIG',
      `${source}: YAML aliases expand to more than ${MAX_YAML_ALIASES} nodes (an alias bomb?); write the values out`,
      { cause: err },
    );
  }
  return new XError('INVALID_CONFIG', `${source}: ${msg.split('\n')[0] ?? msg}`, { cause: err });
}

/** Why a path cannot be opened, in words (permission denied is never "no such file"). */
export function openFailure(path: string, err: unknown, what: string): XError {
  const code = (err as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOENT'
      ? 'no such file'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : code === 'EISDIR'
          ? 'is a directory'
          : code === 'ENOTDIR'
            ? 'a parent is not a directory'
            : (code ?? (err as Error).message);
  return new XError(
    code === 'ENOENT' ? 'NOT_FOUND' : 'INVALID_INPUT',
    `${path}: ${why} (reading ${what})`,
    { cause: err },
  );
}

/**
 * Reads a whole regular file of at most `maxBytes`, checked with `fstat` before reading: a FIFO
 * (opened non-blocking, so it never hangs), a device such as `/dev/zero`, a directory or a file
 * too large is refused at once with `INVALID_INPUT` naming the file and `what` it should be.
 *
 * @example
 * const text = Buffer.from(readRegularFile('run.yaml', 1 << 20, 'config file')).toString('utf8');
 */
export function readRegularFile(path: string, maxBytes: number, what: string): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw openFailure(path, err, what);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      const kind = st.isDirectory()
        ? 'a directory'
        : st.isFIFO()
          ? 'a FIFO'
          : st.isCharacterDevice() || st.isBlockDevice()
            ? 'a device'
            : 'not a regular file';
      throw new XError('INVALID_INPUT', `${path}: ${kind}, not a regular file (reading ${what})`);
    }
    if (st.size > maxBytes) {
      throw new XError(
        'INVALID_INPUT',
        `${path}: ${st.size} bytes, more than the ${maxBytes} allowed (reading ${what})`,
      );
    }
    const buf = new Uint8Array(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n <= 0) break;
      off += n;
    }
    return off === buf.length ? buf : buf.subarray(0, off);
  } catch (err) {
    if (err instanceof XError) throw err;
    throw openFailure(path, err, what);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads and parses a YAML config file; see {@link parseYaml}. Only a regular file of at most
 * {@link MAX_CONFIG_BYTES} is read (see {@link readRegularFile}); every error names the file.
 */
export function loadYamlFile(path: string): unknown {
  const bytes = readRegularFile(path, MAX_CONFIG_BYTES, 'the config file');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (err) {
    throw new XError('INVALID_CONFIG', `${path}: not UTF-8 text`, { cause: err });
  }
  return parseYaml(text, path);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

/** Deep merge of plain objects; arrays and scalars in `override` replace those in `base`. */
export function deepMerge<T>(base: T, override: unknown): T {
  if (!isPlainObject(base) || !isPlainObject(override))
    return (override === undefined ? base : override) as T;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(override))
    setOwn(out, k, Object.hasOwn(out, k) ? deepMerge(out[k], v) : v);
  return out as T;
}

/**
 * Applies `--set a.b.c=value` overrides to a config object (returns a new object). Values are
 * parsed as YAML scalars, so `3` is a number, `true` a boolean, `[1, 2]` a list and `"3"` a
 * string. Unknown keys are caught later by the strict schema.
 */
export function applyOverrides(config: unknown, sets: readonly string[]): unknown {
  let out = structuredClone(config);
  for (const raw of sets) {
    const eq = raw.indexOf('=');
    if (eq <= 0) throw new XError('INVALID_CONFIG', `--set ${raw}: expected dotted.key=value`);
    const key = raw.slice(0, eq).trim();
    const text = raw.slice(eq + 1);
    const parts = key.split('.');
    if (parts.some((p) => p === ''))
      throw new XError('INVALID_CONFIG', `--set ${raw}: empty segment in key '${key}'`);
    const value = text.trim() === '' ? '' : parseYaml(text, `--set ${key}`);
    let patch: unknown = value;
    for (let i = parts.length - 1; i >= 0; i--) patch = { [parts[i] as string]: patch };
    out = deepMerge(out, patch);
  }
  return out;
}

/** Where a resolved config came from. */
export interface ResolveConfigOptions<T extends z.ZodType> {
  schema: T;
  /** Embedded defaults. */
  defaults: unknown;
  /** A YAML file merged over the defaults. */
  file?: string;
  /** `dotted.key=value` overrides applied last. */
  sets?: readonly string[];
}

/**
 * Resolves a config from defaults, an optional YAML file and `--set` overrides, validated once.
 *
 * @example
 * const cfg = resolveConfig({ schema, defaults, file: 'run.yaml', sets: ['train.lr=3e-4'] });
 */
export function resolveConfig<T extends z.ZodType>(options: ResolveConfigOptions<T>): z.output<T> {
  let raw = structuredClone(options.defaults);
  if (options.file !== undefined) raw = deepMerge(raw, loadYamlFile(options.file));
  raw = applyOverrides(raw, options.sets ?? []);
  const source = [options.file, (options.sets?.length ?? 0) > 0 ? '--set' : undefined]
    .filter(Boolean)
    .join(' + ');
  return parseConfig(options.schema, raw, source === '' ? undefined : source);
}
