import { describe, expect, it } from 'vitest';
import { decodeBoard, encodeGrid, givensMask } from './encoding.js';
import { evaluateBoards, scoreBoard } from './metrics.js';
import { gridFromString } from './sudoku.js';

const Q = gridFromString(
  '004300209005009001070060043006002087190007400050083000600000105003508690042910300',
)!;
const S = gridFromString(
  '864371259325849761971265843436192587198657432257483916689734125713528694542916378',
)!;

describe('encoding', () => {
  it('encodes ±1 one-hot with blanks all −1 and decodes by argmax', () => {
    const e = encodeGrid(Q);
    expect(e.length).toBe(729);
    expect(Array.from(e.slice(0, 9))).toEqual(new Array(9).fill(-1));
    expect(e[2 * 9 + 3]).toBe(1);
    expect(e.filter((v) => v === 1).length).toBe(Q.filter((d) => d !== 0).length);
    expect(Array.from(decodeBoard(encodeGrid(S)))).toEqual(Array.from(S));
    const m = givensMask(Q);
    expect(m[0]).toBe(0);
    expect(Array.from(m.slice(18, 27))).toEqual(new Array(9).fill(1));
  });
});

describe('metrics', () => {
  it('scores blank cells, exact boards and consistency separately, per board', () => {
    const perfect = scoreBoard(Q, S, S);
    expect(perfect).toMatchObject({ blankAccuracy: 1, exact: true, consistent: true, valid: true });
    const oneWrong = Uint8Array.from(S);
    oneWrong[0] = 1;
    const s1 = scoreBoard(Q, S, oneWrong);
    expect(s1.exact).toBe(false);
    expect(s1.consistent).toBe(false);
    expect(s1.blanksCorrect).toBe(s1.blanks - 1);
    const swapped = Uint8Array.from(S);
    for (let c = 0; c < 9; c++) {
      const a = swapped[c]!;
      swapped[c] = swapped[9 + c]!;
      swapped[9 + c] = a;
    }
    const s2 = scoreBoard(Q, S, swapped);
    expect(s2.consistent).toBe(true);
    expect(s2.exact).toBe(false);
    expect(s2.valid).toBe(false);
  });

  it('scores every board (not only the last) and counts a full puzzle as solved', () => {
    const wrong = new Uint8Array(81).fill(1);
    const { metrics, boards } = evaluateBoards([Q, Q, S], [S, S, S], [S, wrong, S]);
    expect(boards).toHaveLength(3);
    expect(metrics.boards).toBe(3);
    expect(metrics.boardAccuracy).toBeCloseTo(2 / 3);
    expect(metrics.consistency).toBeCloseTo(2 / 3);
    expect(boards[2]!.blanks).toBe(0);
    expect(boards[2]!.blankAccuracy).toBe(1);
    const blanks = Q.filter((d) => d === 0).length;
    const wrongCorrect = Array.from(S).filter((d, i) => Q[i] === 0 && d === 1).length;
    expect(metrics.blankCells).toBe(2 * blanks);
    expect(metrics.blankCellAccuracy).toBeCloseTo((blanks + wrongCorrect) / (2 * blanks));
    expect(() => evaluateBoards([Q], [S], [])).toThrow(/1 quizzes/);
  });
});
