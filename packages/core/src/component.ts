import { assertStateMatches, type State } from './state.js';

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
