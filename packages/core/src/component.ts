import { assertStateMatches, releaseSnapshot, type State } from './state.js';

/**
 * Anything whose state can be saved and restored: models, optimizers, RNG streams, data
 * iterators, counters, loggers.
 *
 * `getState()` returns a deep copy: mutating it never changes the component, and later changes
 * to the component never change a state already returned. `setState()` validates the state
 * (tree, shapes, dtypes) and throws `STATE_MISMATCH` naming the leaf path on a mismatch.
 *
 * @example
 * class Counter implements Component<{ n: number }> {
 *   n = 0;
 *   getState() { return { n: this.n }; }
 *   setState(s: { n: number }) { assertStateMatches({ n: 0 }, s); this.n = s.n; }
 * }
 */
export interface Component<S extends State = State> {
  getState(): S | Promise<S>;
  setState(state: S): void | Promise<void>;
  /**
   * Optional: the current state without `getState()`'s deep copy, for a reader that only reads it
   * before the component next changes (a checkpoint save copies what it must keep; a digest reads
   * it at once). Leaves may alias the component's memory, valid until it next changes, except
   * leaves whose arrays are marked with {@link markImmutable}, which never change. The caller must
   * not mutate it. Same tree, shapes and values as `getState()`.
   */
  snapshot?(): S | Promise<S>;
}

/** A named set of components, as saved and restored together by a checkpoint. */
export type ComponentMap = Record<string, Component>;

/** Captures the state of every component of a map into one tree keyed by name. */
export async function captureState(components: ComponentMap): Promise<Record<string, State>> {
  const out: Record<string, State> = {};
  for (const name of Object.keys(components).sort()) {
    out[name] = await (components[name] as Component).getState();
  }
  return out;
}

/** States captured by {@link captureSnapshot}, and which components gave a snapshot. */
export interface CapturedSnapshot {
  state: Record<string, State>;
  /** Names of the components captured with `snapshot()` (the others with `getState()`). */
  viewed: ReadonlySet<string>;
  /** Ends the hold on arrays pinned for this snapshot (see `releaseSnapshot`); call when done. */
  release: () => void;
}

/**
 * Captures every component of a map like {@link captureState}, but through `snapshot()` where a
 * component has one: read the result before the components next change, never mutate it, and
 * call `release()` when done.
 */
export async function captureSnapshot(components: ComponentMap): Promise<CapturedSnapshot> {
  const state: Record<string, State> = {};
  const viewed = new Set<string>();
  for (const name of Object.keys(components).sort()) {
    const c = components[name] as Component;
    if (c.snapshot === undefined) state[name] = await c.getState();
    else {
      state[name] = await c.snapshot();
      viewed.add(name);
    }
  }
  return { state, viewed, release: () => releaseSnapshot(state) };
}

/** A {@link Component} over a plain JSON-like value (counters, cursors, small trainer state). */
export class ValueComponent<S extends State> implements Component<S> {
  value: S;
  readonly #validate: (s: unknown) => void;

  constructor(initial: S, validate?: (state: unknown) => void) {
    this.value = initial;
    this.#validate =
      validate ?? ((s: unknown) => assertStateMatches(initial, s, { strictArrays: false }));
  }

  getState(): S {
    return structuredClone(this.value);
  }

  setState(state: S): void {
    this.#validate(state);
    this.value = structuredClone(state);
  }
}
