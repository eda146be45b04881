import { Rng } from '@x/core';
import { describe, expect, it } from 'vitest';
import {
  generatePuzzle,
  generatePuzzles,
  givensOf,
  HARD_GIVENS,
  puzzleAt,
  SATNET_GIVENS,
} from './generator.js';
import {
  countSolutions,
  firstConflict,
  gridFromString,
  gridToString,
  isConsistent,
  solve,
} from './sudoku.js';

const PUZZLE = '000000010400000000020000000000050407008000300001090000300400200050100000000806000';

describe('solver', () => {
  it('solves a 17-given puzzle uniquely', () => {
    const g = gridFromString(PUZZLE)!;
    expect(countSolutions(g, 5)).toBe(1);
    const s = solve(g)!;
    expect(isConsistent(s)).toBe(true);
    for (let i = 0; i < 81; i++) if (g[i] !== 0) expect(s[i]).toBe(g[i]);
  });

  it('counts multiple solutions up to the limit and none for contradictions', () => {
    expect(countSolutions(new Uint8Array(81), 3)).toBe(3);
    const bad = gridFromString(PUZZLE)!;
    bad[1] = 1;
    expect(firstConflict(bad)).toBeGreaterThanOrEqual(0);
    expect(countSolutions(bad)).toBe(0);
    expect(solve(bad)).toBeUndefined();
  });

  it('round-trips grid strings', () => {
    expect(gridToString(gridFromString(PUZZLE)!)).toBe(PUZZLE);
    expect(gridFromString('12')).toBeUndefined();
  });
});

describe('generator', () => {
  it('generates unique puzzles inside the givens range, deterministically', () => {
    const rng = Rng.fromSeed(7);
    const ps = generatePuzzles(rng, 30, SATNET_GIVENS);
    for (const p of ps) {
      expect(countSolutions(p.quiz)).toBe(1);
      expect(isConsistent(p.solution)).toBe(true);
      const n = givensOf(p);
      expect(n).toBeGreaterThanOrEqual(31);
      expect(n).toBeLessThanOrEqual(42);
      for (let i = 0; i < 81; i++) if (p.quiz[i] !== 0) expect(p.quiz[i]).toBe(p.solution[i]);
    }
    const again = generatePuzzles(Rng.fromSeed(7), 30, SATNET_GIVENS);
    expect(again.map((p) => gridToString(p.quiz))).toEqual(ps.map((p) => gridToString(p.quiz)));
    expect(gridToString(puzzleAt(Rng.fromSeed(7), 12, SATNET_GIVENS).quiz)).toBe(
      gridToString(ps[12]!.quiz),
    );
  });

  it('generates harder puzzles with fewer givens', () => {
    const ps = generatePuzzles(Rng.fromSeed(3), 20, HARD_GIVENS);
    const givens = ps.map(givensOf);
    for (const p of ps) expect(countSolutions(p.quiz)).toBe(1);
    expect(Math.min(...givens)).toBeLessThan(28);
    expect(Math.max(...givens)).toBeLessThanOrEqual(34);
  });

  it('rejects an impossible range', () => {
    expect(() => generatePuzzle(Rng.fromSeed(1), { minGivens: 10, maxGivens: 20 })).toThrow(
      /givens range/,
    );
  });
});
