import { Rng, XError, type Component } from '@x/core';

/** Saved position of an {@link EpochCursor}. */
export interface EpochCursorState {
  [key: string]: string | number | boolean;
  seed: string;
  size: number;
  shuffle: boolean;
  epoch: number;
  index: number;
}

/**
 * The position of a data iterator as a `Component`: a deterministic pass over `size` examples,
 * epoch after epoch, each epoch in the order `Rng.fromSeed(seed).stream('epoch', e)` permutes
 * (or in index order without `shuffle`). Batches depend only on the seed and the position, so a
 * restored cursor yields exactly the batches the original would have.
 *
 * @example
 * const data = new EpochCursor(dataset.length, config.seed);
 * const batch = data.next(32).map((i) => dataset[i]);
 */
export class EpochCursor implements Component<EpochCursorState> {
  readonly size: number;
  readonly seed: string;
  readonly shuffle: boolean;
  #epoch = 0;
  #index = 0;
  #order: number[] | undefined;

  constructor(size: number, seed: number | string, options: { shuffle?: boolean } = {}) {
    if (!Number.isSafeInteger(size) || size < 1) {
      throw new XError(
        'INVALID_CONFIG',
        `EpochCursor: size must be a positive integer, got ${size}`,
      );
    }
    this.size = size;
    this.seed = String(seed);
    this.shuffle = options.shuffle ?? true;
  }

  /** Completed epochs. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Position inside the current epoch. */
  get index(): number {
    return this.#index;
  }

  #orderOf(epoch: number): number[] {
    if (this.#order === undefined) {
      this.#order = this.shuffle
        ? Rng.fromSeed(this.seed).stream('epoch', epoch).permutation(this.size)
        : Array.from({ length: this.size }, (_, i) => i);
    }
    return this.#order;
  }

  /** The next `n` example indices, continuing into the next epoch when this one ends. */
  next(n: number): number[] {
    const out: number[] = [];
    while (out.length < n) {
      const order = this.#orderOf(this.#epoch);
      const take = Math.min(n - out.length, this.size - this.#index);
      for (let i = 0; i < take; i++) out.push(order[this.#index + i] as number);
      this.#index += take;
      if (this.#index === this.size) {
        this.#epoch++;
        this.#index = 0;
        this.#order = undefined;
      }
    }
    return out;
  }

  getState(): EpochCursorState {
    return {
      seed: this.seed,
      size: this.size,
      shuffle: this.shuffle,
      epoch: this.#epoch,
      index: this.#index,
    };
  }

  setState(state: EpochCursorState): void {
    const bad = (path: string, what: string): never => {
      throw new XError('STATE_MISMATCH', `${path}: ${what}`, { details: { path } });
    };
    if (typeof state !== 'object' || state === null) bad('', 'expected an object');
    for (const k of Object.keys(state)) {
      if (!['seed', 'size', 'shuffle', 'epoch', 'index'].includes(k)) bad(k, 'unexpected key');
    }
    if (state.seed !== this.seed)
      bad('seed', `expected ${JSON.stringify(this.seed)}, got ${JSON.stringify(state.seed)}`);
    if (state.size !== this.size)
      bad('size', `expected ${this.size}, got ${JSON.stringify(state.size)}`);
    if (state.shuffle !== this.shuffle)
      bad('shuffle', `expected ${this.shuffle}, got ${JSON.stringify(state.shuffle)}`);
    if (!Number.isSafeInteger(state.epoch) || state.epoch < 0)
      bad('epoch', `expected a non-negative integer, got ${JSON.stringify(state.epoch)}`);
    if (!Number.isSafeInteger(state.index) || state.index < 0 || state.index >= this.size) {
      bad('index', `expected an integer in [0, ${this.size}), got ${JSON.stringify(state.index)}`);
    }
    this.#epoch = state.epoch;
    this.#index = state.index;
    this.#order = undefined;
  }
}
