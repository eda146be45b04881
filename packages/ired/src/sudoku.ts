/** A Sudoku grid: 81 cells in row-major order, 0 = blank, 1..9 = digit. */
export type Grid = Uint8Array;

const ALL = 0x1ff;
const BOX_OF = Uint8Array.from(
  { length: 81 },
  (_, i) => 3 * Math.floor(i / 27) + Math.floor((i % 9) / 3),
);
const POPCOUNT = Uint8Array.from({ length: 512 }, (_, m) => {
  let c = 0;
  for (let x = m; x !== 0; x &= x - 1) c++;
  return c;
});

/** The box (0..8, row-major) a cell belongs to. */
export function boxOf(cell: number): number {
  return BOX_OF[cell] as number;
}

/** Number of non-blank cells. */
export function countGivens(grid: Grid): number {
  let n = 0;
  for (let i = 0; i < 81; i++) if (grid[i] !== 0) n++;
  return n;
}

/** The first cell index whose digit repeats one already in its row, column or box, or -1. */
export function firstConflict(grid: Grid): number {
  const rows = new Uint16Array(9);
  const cols = new Uint16Array(9);
  const boxes = new Uint16Array(9);
  for (let i = 0; i < 81; i++) {
    const d = grid[i] as number;
    if (d === 0) continue;
    const bit = 1 << (d - 1);
    const r = (i / 9) | 0;
    const c = i % 9;
    const b = BOX_OF[i] as number;
    if (((rows[r] as number) | (cols[c] as number) | (boxes[b] as number)) & bit) return i;
    rows[r] = (rows[r] as number) | bit;
    cols[c] = (cols[c] as number) | bit;
    boxes[b] = (boxes[b] as number) | bit;
  }
  return -1;
}

/** True when every row, column and box holds each digit 1..9 exactly once. */
export function isConsistent(grid: Grid): boolean {
  for (let i = 0; i < 81; i++) if ((grid[i] as number) < 1 || (grid[i] as number) > 9) return false;
  return firstConflict(grid) === -1;
}

/** Search state of the bitmask solver. */
interface Search {
  grid: Uint8Array;
  rows: Uint16Array;
  cols: Uint16Array;
  boxes: Uint16Array;
  empty: Uint8Array;
  nEmpty: number;
  count: number;
  limit: number;
  first: Uint8Array | undefined;
  order: ((mask: number) => number[]) | undefined;
}

function init(grid: Grid, limit: number): Search | undefined {
  const s: Search = {
    grid: Uint8Array.from(grid),
    rows: new Uint16Array(9),
    cols: new Uint16Array(9),
    boxes: new Uint16Array(9),
    empty: new Uint8Array(81),
    nEmpty: 0,
    count: 0,
    limit,
    first: undefined,
    order: undefined,
  };
  if (firstConflict(grid) !== -1) return undefined;
  for (let i = 0; i < 81; i++) {
    const d = grid[i] as number;
    if (d === 0) {
      s.empty[s.nEmpty++] = i;
      continue;
    }
    const bit = 1 << (d - 1);
    s.rows[(i / 9) | 0]! |= bit;
    s.cols[i % 9]! |= bit;
    s.boxes[BOX_OF[i] as number]! |= bit;
  }
  return s;
}

function candidates(s: Search, cell: number): number {
  return (
    ~(
      (s.rows[(cell / 9) | 0] as number) |
      (s.cols[cell % 9] as number) |
      (s.boxes[BOX_OF[cell] as number] as number)
    ) & ALL
  );
}

function search(s: Search, depth: number): void {
  if (depth === s.nEmpty) {
    s.count++;
    if (s.first === undefined) s.first = Uint8Array.from(s.grid);
    return;
  }
  let best = depth;
  let bestMask = 0;
  let bestCount = 10;
  for (let k = depth; k < s.nEmpty; k++) {
    const m = candidates(s, s.empty[k] as number);
    const c = POPCOUNT[m] as number;
    if (c < bestCount) {
      best = k;
      bestMask = m;
      bestCount = c;
      if (c <= 1) break;
    }
  }
  if (bestCount === 0) return;
  const cell = s.empty[best] as number;
  s.empty[best] = s.empty[depth] as number;
  s.empty[depth] = cell;
  const r = (cell / 9) | 0;
  const c = cell % 9;
  const b = BOX_OF[cell] as number;
  const bits: number[] = [];
  if (s.order === undefined) {
    for (let m = bestMask; m !== 0; m &= m - 1) bits.push(m & -m);
  } else {
    for (const d of s.order(bestMask)) bits.push(1 << (d - 1));
  }
  for (const bit of bits) {
    s.rows[r]! |= bit;
    s.cols[c]! |= bit;
    s.boxes[b]! |= bit;
    s.grid[cell] = 32 - Math.clz32(bit);
    search(s, depth + 1);
    s.rows[r]! &= ~bit;
    s.cols[c]! &= ~bit;
    s.boxes[b]! &= ~bit;
    s.grid[cell] = 0;
    if (s.count >= s.limit) break;
  }
  s.empty[depth] = s.empty[best] as number;
  s.empty[best] = cell;
}

/**
 * Counts the solutions of a puzzle, stopping at `limit` (default 2, enough to test uniqueness).
 * Exact bitmask backtracking with the minimum-remaining-values rule; a puzzle whose givens
 * conflict has 0 solutions.
 */
export function countSolutions(grid: Grid, limit = 2): number {
  const s = init(grid, limit);
  if (s === undefined) return 0;
  search(s, 0);
  return s.count;
}

/** The first solution found, or undefined when the puzzle has none. */
export function solve(grid: Grid): Grid | undefined {
  const s = init(grid, 1);
  if (s === undefined) return undefined;
  search(s, 0);
  return s.first;
}

/**
 * A solution found by trying candidate digits in the order `order(mask)` returns (digits 1..9
 * present in the 9-bit candidate mask); used to draw random complete grids.
 */
export function solveWithOrder(grid: Grid, order: (mask: number) => number[]): Grid | undefined {
  const s = init(grid, 1);
  if (s === undefined) return undefined;
  s.order = order;
  search(s, 0);
  return s.first;
}

/** The digits (1..9) set in a 9-bit candidate mask, ascending. */
export function maskDigits(mask: number): number[] {
  const out: number[] = [];
  for (let d = 1; d <= 9; d++) if (mask & (1 << (d - 1))) out.push(d);
  return out;
}

/** An 81-character string of a grid (0 = blank). */
export function gridToString(grid: Grid): string {
  let s = '';
  for (let i = 0; i < 81; i++) s += String(grid[i]);
  return s;
}

/** Parses an 81-character digit string (0 or '.' = blank) into a grid; undefined if malformed. */
export function gridFromString(text: string): Grid | undefined {
  if (text.length !== 81) return undefined;
  const g = new Uint8Array(81);
  for (let i = 0; i < 81; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 46) continue;
    const d = ch - 48;
    if (d < 0 || d > 9) return undefined;
    g[i] = d;
  }
  return g;
}
