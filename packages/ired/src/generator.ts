import { type Rng, XError } from '@x/core';
import { countGivens, countSolutions, type Grid, maskDigits, solveWithOrder } from './sudoku.js';

/** A Sudoku puzzle with its solution. */
export interface Puzzle {
  /** The puzzle, 0 = blank. */
  quiz: Grid;
  /** The complete solution. */
  solution: Grid;
}

/** The range of givens of generated puzzles (inclusive). */
export interface GivensRange {
  minGivens: number;
  maxGivens: number;
}

/** SAT-Net-like puzzles: 31–42 givens. */
export const SATNET_GIVENS: GivensRange = { minGivens: 31, maxGivens: 42 };
/** RRN-like harder puzzles: 17–34 givens (as far as uniqueness allows). */
export const HARD_GIVENS: GivensRange = { minGivens: 17, maxGivens: 34 };

const MAX_ATTEMPTS = 64;
const REMOVAL_PASSES = 4;

/** A uniformly shuffled complete grid drawn from `rng`. */
export function randomSolution(rng: Rng): Grid {
  const grid = solveWithOrder(new Uint8Array(81), (mask) => rng.shuffle(maskDigits(mask)));
  if (grid === undefined) throw new XError('INTERNAL', 'failed to fill an empty Sudoku grid');
  return grid;
}

function checkRange(range: GivensRange): void {
  const { minGivens, maxGivens } = range;
  if (
    !Number.isInteger(minGivens) ||
    !Number.isInteger(maxGivens) ||
    minGivens < 17 ||
    maxGivens > 81 ||
    minGivens > maxGivens
  ) {
    throw new XError(
      'INVALID_CONFIG',
      `givens range ${minGivens}..${maxGivens}: expected integers with 17 <= minGivens <= maxGivens <= 81`,
    );
  }
}

/**
 * Generates one puzzle with a unique solution and a number of givens in the range, entirely
 * from `rng`. A target count is drawn uniformly from the range and givens are removed in random
 * order while the solution stays unique; when a minimal puzzle is reached above the target, it
 * the best of a few removal orders
 * is kept if it lies in the range (so low targets like 17 give the fewest givens uniqueness
 * allows), otherwise a new grid is drawn.
 *
 * @example
 * const p = generatePuzzle(Rng.fromSeed(1).stream('puzzle', 0), SATNET_GIVENS);
 */
export function generatePuzzle(rng: Rng, range: GivensRange): Puzzle {
  checkRange(range);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const solution = randomSolution(rng);
    const target = rng.int(range.minGivens, range.maxGivens + 1);
    let best: Grid | undefined;
    let bestGivens = 82;
    for (let pass = 0; pass < REMOVAL_PASSES && bestGivens > target; pass++) {
      const quiz = Uint8Array.from(solution);
      let givens = 81;
      for (const cell of rng.permutation(81)) {
        if (givens <= target) break;
        const d = quiz[cell] as number;
        quiz[cell] = 0;
        if (countSolutions(quiz, 2) === 1) givens--;
        else quiz[cell] = d;
      }
      if (givens < bestGivens) {
        best = quiz;
        bestGivens = givens;
      }
    }
    if (best !== undefined && bestGivens <= range.maxGivens) return { quiz: best, solution };
  }
  throw new XError(
    'INVALID_CONFIG',
    `could not generate a unique puzzle with at most ${range.maxGivens} givens in ${MAX_ATTEMPTS} attempts`,
  );
}

/**
 * Puzzle `index` of the deterministic stream `(rng, name)`: the same puzzle whatever else was
 * generated before, so datasets do not depend on batch size or order.
 */
export function puzzleAt(rng: Rng, index: number, range: GivensRange): Puzzle {
  return generatePuzzle(rng.stream('sudoku', range.minGivens, range.maxGivens, index), range);
}

/** `count` puzzles `offset..offset+count-1` of the stream of `rng` (see {@link puzzleAt}). */
export function generatePuzzles(rng: Rng, count: number, range: GivensRange, offset = 0): Puzzle[] {
  const out: Puzzle[] = [];
  for (let i = 0; i < count; i++) out.push(puzzleAt(rng, offset + i, range));
  return out;
}

/** Number of givens of a puzzle. */
export function givensOf(p: Puzzle): number {
  return countGivens(p.quiz);
}
