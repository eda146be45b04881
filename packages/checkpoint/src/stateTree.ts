import { XError, isTensorData, joinPath, setOwn, type State, type TensorData } from '@x/core';

/** Version of the `state.json` encoding. */
export const STATE_JSON_VERSION = 1;

/** A state tree split into its tensor leaves (by unique name) and a JSON skeleton. */
export interface SplitState {
  /** JSON-safe tree: tensors replaced by `{"$tensor": name}`, special numbers by `{"$number": "NaN"}`. */
  tree: unknown;
  tensors: Map<string, TensorData>;
}

function uniqueName(path: string, taken: Map<string, TensorData>): string {
  let name = path === '' ? '<root>' : path;
  if (name === '__metadata__') name = '__metadata__#1';
  if (!taken.has(name)) return name;
  for (let i = 2; ; i++) if (!taken.has(`${name}#${i}`)) return `${name}#${i}`;
}

function encodeNumber(n: number): unknown {
  if (Number.isNaN(n)) return { $number: 'NaN' };
  if (n === Infinity) return { $number: 'Infinity' };
  if (n === -Infinity) return { $number: '-Infinity' };
  if (Object.is(n, -0)) return { $number: '-0' };
  return n;
}

/**
 * Splits a state tree: every tensor leaf is named by its path (`model/conv1/kernel`, made unique
 * if two paths collide) and replaced in the skeleton by a reference. Objects whose keys start
 * with `$` are wrapped as `{"$object": {...}}` so they cannot be mistaken for references.
 */
export function splitState(state: State): SplitState {
  const tensors = new Map<string, TensorData>();
  const walk = (v: State, path: string): unknown => {
    if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
    if (typeof v === 'number') return encodeNumber(v);
    if (isTensorData(v)) {
      const name = uniqueName(path, tensors);
      tensors.set(name, v);
      return { $tensor: name };
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, joinPath(path, String(i))));
    if (typeof v !== 'object' || ArrayBuffer.isView(v)) {
      throw new XError(
        'STATE_MISMATCH',
        `${path || '<root>'}: ${ArrayBuffer.isView(v) ? 'bare typed array; wrap it with tensorData()' : `value of type ${typeof v} is not a state leaf`}`,
      );
    }
    const out: Record<string, unknown> = {};
    let special = false;
    for (const k of Object.keys(v).sort()) {
      if (k.startsWith('$')) special = true;
      setOwn(out, k, walk(v[k] as State, joinPath(path, k)));
    }
    return special ? { $object: out } : out;
  };
  return { tree: walk(state, ''), tensors };
}

/**
 * Rebuilds a state tree from a skeleton and the tensors it references. Throws `INVALID_INPUT`
 * naming the path when the skeleton is malformed or references a missing tensor, and when a
 * tensor is referenced twice or not at all.
 */
export function joinState(
  tree: unknown,
  tensors: ReadonlyMap<string, TensorData>,
  source: string,
): State {
  const used = new Set<string>();
  const bad = (path: string, what: string): never => {
    throw new XError('INVALID_INPUT', `${source}: ${path || '<root>'}: ${what}`, {
      details: { path },
    });
  };
  const walk = (v: unknown, path: string): State => {
    if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
    if (typeof v === 'number') return v;
    if (Array.isArray(v)) return v.map((x, i) => walk(x, joinPath(path, String(i))));
    if (typeof v !== 'object') return bad(path, `unexpected ${typeof v}`);
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === '$tensor') {
      const name = o['$tensor'];
      if (typeof name !== 'string') return bad(path, '$tensor must name a tensor');
      const t = tensors.get(name);
      if (t === undefined)
        return bad(path, `tensor ${JSON.stringify(name)} is not in state.safetensors`);
      if (used.has(name)) return bad(path, `tensor ${JSON.stringify(name)} is referenced twice`);
      used.add(name);
      return t;
    }
    if (keys.length === 1 && keys[0] === '$number') {
      const s = o['$number'];
      if (s === 'NaN') return NaN;
      if (s === 'Infinity') return Infinity;
      if (s === '-Infinity') return -Infinity;
      if (s === '-0') return -0;
      return bad(path, `unknown $number ${JSON.stringify(s)}`);
    }
    let body = o;
    if (keys.length === 1 && keys[0] === '$object') {
      const inner = o['$object'];
      if (inner === null || typeof inner !== 'object' || Array.isArray(inner))
        return bad(path, '$object must be an object');
      body = inner as Record<string, unknown>;
    } else if (keys.some((k) => k.startsWith('$'))) {
      return bad(path, `unexpected key ${JSON.stringify(keys.find((k) => k.startsWith('$')))}`);
    }
    const out: Record<string, State> = {};
    for (const k of Object.keys(body)) setOwn(out, k, walk(body[k], joinPath(path, k)));
    return out;
  };
  const state = walk(tree, '');
  for (const name of tensors.keys()) {
    if (!used.has(name))
      throw new XError(
        'INVALID_INPUT',
        `${source}: tensor ${JSON.stringify(name)} of state.safetensors is not referenced by state.json`,
      );
  }
  return state;
}
