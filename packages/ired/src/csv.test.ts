import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isXError, Rng } from '@x/core';
import { describe, expect, it } from 'vitest';
import { formatRrnCsv, parseRrnCsv, readRrnCsv, writeRrnCsv } from './csv.js';
import { generatePuzzles, SATNET_GIVENS } from './generator.js';
import { gridToString } from './sudoku.js';

const Q = '004300209005009001070060043006002087190007400050083000600000105003508690042910300';
const S = '864371259325849761971265843436192587198657432257483916689734125713528694542916378';

function errorOf(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('RRN CSV', () => {
  it('reads quiz,solution lines as strings, keeping leading zeros', () => {
    const ps = parseRrnCsv(`${Q},${S}\r\n${Q},${S}\n\n`, 'x.csv');
    expect(ps).toHaveLength(2);
    expect(gridToString(ps[0]!.quiz)).toBe(Q);
    expect(ps[0]!.quiz[0]).toBe(0);
    expect(gridToString(ps[1]!.solution)).toBe(S);
  });

  it('round-trips through a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ired-csv-'));
    const ps = generatePuzzles(Rng.fromSeed(2), 5, SATNET_GIVENS);
    writeRrnCsv(join(dir, 'p.csv'), ps);
    const back = readRrnCsv(join(dir, 'p.csv'));
    expect(back.map((p) => gridToString(p.quiz))).toEqual(ps.map((p) => gridToString(p.quiz)));
    expect(formatRrnCsv(back)).toBe(formatRrnCsv(ps));
  });

  it.each([
    ['wrong length', `${Q.slice(1)},${S}`, /x\.csv:2: quiz has 80 characters/],
    ['bad character', `${Q.slice(0, 5)}x${Q.slice(6)},${S}`, /x\.csv:2: quiz character 6 is 'x'/],
    ['blank in solution', `${Q},0${S.slice(1)}`, /x\.csv:2: solution character 1 is '0'/],
    ['field count', `${Q}`, /x\.csv:2: expected 2 fields/],
    [
      'contradicting givens',
      `55${Q.slice(2)},${S}`,
      /x\.csv:2: quiz givens contradict each other: digit 5 at r1c2/,
    ],
    [
      'invalid solution',
      `${Q},${S.slice(0, 80)}1`,
      /x\.csv:2: solution is not a valid Sudoku grid/,
    ],
    [
      'given vs solution',
      `01${Q.slice(2)},${S}`,
      /x\.csv:2: quiz given 1 at r1c2 contradicts the solution's 6/,
    ],
    ['empty line inside', `\n${Q},${S}`, /x\.csv:2: empty line/],
  ])('rejects %s with file:line and reason', (_name, line, re) => {
    const err = errorOf(() => parseRrnCsv(`${Q},${S}\n${line}\n`, 'x.csv'));
    expect(isXError(err, 'INVALID_INPUT')).toBe(true);
    expect(err.message).toMatch(re);
  });

  it('names a missing file', () => {
    const err = errorOf(() => readRrnCsv('/nonexistent/p.csv'));
    expect(isXError(err, 'NOT_FOUND')).toBe(true);
    expect(err.message).toContain('/nonexistent/p.csv');
  });
});
