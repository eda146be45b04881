import { describe, expect, it } from 'vitest';
import { captureSnapshot, type Component } from './component.js';
import { stateDigest } from './digest.js';
import { isXError } from './errors.js';
import { cloneState, isImmutable, isTensorData, type State, type TensorData } from './state.js';

/** Options of {@link describeComponentContract}. */
export interface ComponentContractOptions<S extends State> {
  /** A fresh instance in its initial state. */
  create: () => Component<S> | Promise<Component<S>>;
  /** Changes the component's state (train a step, draw numbers, advance a cursor). */
  mutate: (component: Component<S>) => void | Promise<void>;
  /** Extra invalid states, each built from a valid one, that must be rejected naming `path`. */
  invalid?: { name: string; make: (valid: S) => unknown; path: string }[];
}

interface Leaf {
  keys: string[];
  path: string;
  value: State;
}

function leaves(state: State, keys: string[] = []): Leaf[] {
  if (state === null || typeof state !== 'object' || isTensorData(state)) {
    return [{ keys, path: keys.join('/'), value: state }];
  }
  const entries: [string, State][] = Array.isArray(state)
    ? state.map((v, i) => [String(i), v])
    : Object.keys(state)
        .sort()
        .map((k) => [k, state[k] as State]);
  return entries.flatMap(([k, v]) => leaves(v, [...keys, k]));
}

function setAt(state: State, keys: readonly string[], value: State): State {
  const copy = cloneState(state);
  let node = copy as Record<string, State>;
  for (const k of keys.slice(0, -1)) node = node[k] as Record<string, State>;
  node[keys[keys.length - 1] as string] = value;
  return copy;
}

function scramble(state: State): void {
  if (state === null || typeof state !== 'object') return;
  if (isTensorData(state)) {
    const bytes = new Uint8Array(state.data.buffer, state.data.byteOffset, state.data.byteLength);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (bytes[i] as number) ^ 0x5a;
    (state.shape as number[]).push(7);
    return;
  }
  if (Array.isArray(state)) {
    state.forEach(scramble);
    state.push('scrambled');
    return;
  }
  for (const k of Object.keys(state)) {
    const v = state[k] as State;
    if (typeof v === 'number') state[k] = v + 1;
    else if (typeof v === 'string') state[k] = `${v}!`;
    else scramble(v);
  }
  state['__scrambled__'] = true;
}

async function expectRejected(c: Component<State>, bad: unknown, path: string): Promise<void> {
  const before = stateDigest(await c.getState());
  let error: unknown;
  try {
    await c.setState(bad as State);
  } catch (err) {
    error = err;
  }
  expect(error, `setState accepted an invalid state at ${path}`).toBeDefined();
  expect(
    isXError(error, 'STATE_MISMATCH'),
    `expected XError STATE_MISMATCH, got ${String(error)}`,
  ).toBe(true);
  expect((error as Error).message).toContain(path);
  expect(stateDigest(await c.getState()), 'a rejected setState changed the component').toBe(before);
}

/**
 * The `Component` contract as a vitest suite, for every implementation to run: round trip into
 * a fresh instance, deep-copy isolation both ways, and rejection of a wrong tree, dtype or shape
 * with an error naming the leaf path (leaving the component unchanged).
 *
 * @example
 * describeComponentContract('Rng', { create: () => Rng.fromSeed(1), mutate: (r) => void (r as Rng).uniform() });
 */
export function describeComponentContract<S extends State>(
  name: string,
  options: ComponentContractOptions<S>,
): void {
  const make = async () => (await options.create()) as unknown as Component<State>;
  const mutate = (c: Component<State>) => options.mutate(c as unknown as Component<S>);

  describe(`${name} satisfies the Component contract`, () => {
    it('round-trips its state into a fresh instance', async () => {
      const a = await make();
      await mutate(a);
      const s = await a.getState();
      const b = await make();
      expect(stateDigest(await b.getState())).not.toBe(stateDigest(s));
      await b.setState(cloneState(s));
      expect(stateDigest(await b.getState())).toBe(stateDigest(s));
      await mutate(a);
      await mutate(b);
      expect(stateDigest(await b.getState())).toBe(stateDigest(await a.getState()));
    });

    it('returns deep copies: mutating a returned state never changes the component', async () => {
      const c = await make();
      await mutate(c);
      const before = stateDigest(await c.getState());
      scramble(await c.getState());
      expect(stateDigest(await c.getState())).toBe(before);
    });

    it('returns deep copies: later changes to the component never change a returned state', async () => {
      const c = await make();
      const s = await c.getState();
      const d = stateDigest(s);
      await mutate(c);
      expect(stateDigest(s)).toBe(d);
    });

    it('captureSnapshot reads it through snapshot() where it has one: equal to getState(), immutable arrays stay put', async () => {
      const c = await make();
      await mutate(c);
      const { state, viewed, release } = await captureSnapshot({ c });
      expect(viewed.has('c')).toBe(c.snapshot !== undefined);
      const snap = state['c'] as State;
      expect(stateDigest(snap)).toBe(stateDigest(await c.getState()));
      const kept = leaves(snap).flatMap((l) =>
        isTensorData(l.value) && isImmutable(l.value.data)
          ? [{ data: l.value.data, bytes: l.value.data.slice() }]
          : [],
      );
      await mutate(c);
      for (const k of kept) expect(k.data).toEqual(k.bytes);
      release();
      const again = await captureSnapshot({ c });
      expect(stateDigest(again.state['c'] as State)).toBe(stateDigest(await c.getState()));
      again.release();
    });

    it('does not keep a reference to the state passed to setState', async () => {
      const a = await make();
      await mutate(a);
      const s = await a.getState();
      const b = await make();
      await b.setState(s);
      const d = stateDigest(await b.getState());
      scramble(s);
      expect(stateDigest(await b.getState())).toBe(d);
    });

    it('rejects a state of the wrong shape or dtype, naming the leaf path', async () => {
      const c = await make();
      await mutate(c);
      const valid = await c.getState();
      const all = leaves(valid);
      const tensor = all.find((l) => isTensorData(l.value) && l.value.shape.length > 0);
      if (tensor !== undefined) {
        const t = tensor.value as TensorData;
        const otherDtype = t.dtype === 'float64' ? 'float32' : 'float64';
        const wrongDtype: TensorData = {
          dtype: otherDtype,
          shape: [...t.shape],
          data: otherDtype === 'float64' ? Float64Array.from(t.data) : Float32Array.from(t.data),
        };
        await expectRejected(c, setAt(valid, tensor.keys, wrongDtype), tensor.path);
        const shape = [...t.shape, 1];
        await expectRejected(
          c,
          setAt(valid, tensor.keys, { ...t, data: t.data.slice(), shape }),
          tensor.path,
        );
      }
      const scalar = all.find((l) => typeof l.value === 'number' || typeof l.value === 'string');
      if (scalar !== undefined && scalar.path !== '') {
        await expectRejected(c, setAt(valid, scalar.keys, { wrong: true }), scalar.path);
      }
      expect(tensor ?? scalar, 'the state has no leaf to corrupt').toBeDefined();
      for (const inv of options.invalid ?? [])
        await expectRejected(c, inv.make(valid as S), inv.path);
    });
  });
}
