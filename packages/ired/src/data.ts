import { assertStateMatches, type Component, type Rng, XError } from '@x/core';
import { type GivensRange, type Puzzle, puzzleAt } from './generator.js';

/** Saved position of a {@link PuzzleStream}: puzzles handed out so far. */
export interface PuzzleStreamState {
  [key: string]: number;
  cursor: number;
}

/**
 * An endless, resumable stream of training puzzles: either freshly generated (puzzle `i` is
 * `puzzleAt(rng, i, range)`) or a fixed list visited in a new permutation each epoch
 * (`rng.stream('order', epoch)`). The state is only the cursor, so resuming from a checkpoint
 * continues with exactly the puzzles a straight run would have seen.
 */
export class PuzzleStream implements Component<PuzzleStreamState> {
  #cursor = 0;
  readonly #rng: Rng;
  readonly #list: readonly Puzzle[] | undefined;
  readonly #range: GivensRange | undefined;
  #orderEpoch = -1;
  #order: number[] = [];

  private constructor(
    rng: Rng,
    list: readonly Puzzle[] | undefined,
    range: GivensRange | undefined,
  ) {
    this.#rng = rng;
    this.#list = list;
    this.#range = range;
  }

  /** A stream of generated puzzles with givens in `range`. */
  static generated(rng: Rng, range: GivensRange): PuzzleStream {
    return new PuzzleStream(rng, undefined, range);
  }

  /** A stream over a fixed list, reshuffled every epoch. */
  static fromList(rng: Rng, puzzles: readonly Puzzle[]): PuzzleStream {
    if (puzzles.length === 0)
      throw new XError('INVALID_INPUT', 'PuzzleStream: the puzzle list is empty');
    return new PuzzleStream(rng, puzzles, undefined);
  }

  /** Puzzles handed out so far. */
  get cursor(): number {
    return this.#cursor;
  }

  #at(i: number): Puzzle {
    const list = this.#list;
    if (list === undefined) return puzzleAt(this.#rng, i, this.#range as GivensRange);
    const epoch = Math.floor(i / list.length);
    if (epoch !== this.#orderEpoch) {
      this.#order = this.#rng.stream('order', epoch).permutation(list.length);
      this.#orderEpoch = epoch;
    }
    return list[this.#order[i % list.length] as number] as Puzzle;
  }

  /** The next `n` puzzles. */
  next(n: number): Puzzle[] {
    const out: Puzzle[] = [];
    for (let k = 0; k < n; k++) out.push(this.#at(this.#cursor + k));
    this.#cursor += n;
    return out;
  }

  getState(): PuzzleStreamState {
    return { cursor: this.#cursor };
  }

  setState(state: PuzzleStreamState): void {
    assertStateMatches({ cursor: 0 }, state);
    if (!Number.isSafeInteger(state.cursor) || state.cursor < 0) {
      throw new XError(
        'STATE_MISMATCH',
        `cursor: expected a non-negative integer, got ${state.cursor}`,
      );
    }
    this.#cursor = state.cursor;
  }
}
