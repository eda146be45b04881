import type { Rng } from '@x/core';
import type { Grid } from './sudoku.js';

/** Values per board: 81 cells × 9 digits, flat index `(row*9 + col)*9 + digit`. */
export const BOARD_SIZE = 729;

/**
 * The ±1 one-hot encoding of a grid: +1 on the digit's channel, −1 elsewhere; a blank cell is
 * −1 on all 9 channels. Written at `offset` into `out` (a new array by default).
 */
export function encodeGrid(
  grid: Grid,
  out: Float32Array = new Float32Array(BOARD_SIZE),
  offset = 0,
): Float32Array {
  out.fill(-1, offset, offset + BOARD_SIZE);
  for (let i = 0; i < 81; i++) {
    const d = grid[i] as number;
    if (d !== 0) out[offset + i * 9 + d - 1] = 1;
  }
  return out;
}

/** 1 on all 9 channels of every given cell, 0 elsewhere. */
export function givensMask(
  quiz: Grid,
  out: Float32Array = new Float32Array(BOARD_SIZE),
  offset = 0,
): Float32Array {
  out.fill(0, offset, offset + BOARD_SIZE);
  for (let i = 0; i < 81; i++) if (quiz[i] !== 0) out.fill(1, offset + i * 9, offset + i * 9 + 9);
  return out;
}

/** Decodes a board by the argmax over each cell's 9 values (ties go to the lower digit). */
export function decodeBoard(values: ArrayLike<number>, offset = 0): Grid {
  const g = new Uint8Array(81);
  for (let i = 0; i < 81; i++) {
    let best = 0;
    let bestV = -Infinity;
    for (let d = 0; d < 9; d++) {
      const v = values[offset + i * 9 + d] as number;
      if (v > bestV) {
        bestV = v;
        best = d;
      }
    }
    g[i] = best + 1;
  }
  return g;
}

/** Encodes a batch of grids into one `(n, 729)` row-major array. */
export function encodeBatch(grids: readonly Grid[]): Float32Array {
  const out = new Float32Array(grids.length * BOARD_SIZE);
  grids.forEach((g, b) => encodeGrid(g, out, b * BOARD_SIZE));
  return out;
}

/** Fills one board (729 values at `offset`) of `out` with standard normal draws from `rng`. */
export function fillNormalAt(rng: Rng, out: Float32Array, offset: number): void {
  for (let i = 0; i < BOARD_SIZE; i++) out[offset + i] = rng.normal();
}
