import {
  Rng,
  assertStateMatches,
  cloneState,
  tensorData,
  type Component,
  type State,
  type TensorData,
} from '@x/core';

export interface BagState {
  [key: string]: State;
  w: TensorData<'float32'>;
  b: TensorData<'float64'>;
  n: number;
}

/** A small stateful component with tensor and scalar leaves, for tests. */
export class Bag implements Component<BagState> {
  w: Float32Array;
  b: Float64Array;
  n = 0;

  constructor(readonly size = 6) {
    this.w = new Float32Array(size);
    this.b = new Float64Array(2);
  }

  /** Deterministic content for step `step`. */
  fill(step: number): this {
    const r = Rng.fromSeed(99).stream('bag', step);
    r.fillNormal(this.w);
    r.fillNormal(this.b);
    this.n = step;
    return this;
  }

  getState(): BagState {
    return {
      w: tensorData('float32', [this.size], this.w),
      b: tensorData('float64', [2], this.b),
      n: this.n,
    };
  }

  setState(state: BagState): void {
    assertStateMatches(this.getState(), state);
    const s = cloneState(state);
    this.w = s.w.data;
    this.b = s.b.data;
    this.n = s.n;
  }
}
