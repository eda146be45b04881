import { writeFileSync } from 'node:fs';
import { XError, readRegularFile } from '@x/core';
import type { Puzzle } from './generator.js';
import { firstConflict, type Grid, gridToString, isConsistent } from './sudoku.js';

const HEADER = /^[A-Za-z_]+\s*,\s*[A-Za-z_]+$/;

function fail(source: string, line: number, reason: string): never {
  throw new XError('INVALID_INPUT', `${source}:${line}: ${reason}`, {
    details: { file: source, line },
  });
}

function parseGrid(
  text: string,
  what: string,
  allowBlank: boolean,
  source: string,
  line: number,
): Grid {
  if (text.length !== 81) fail(source, line, `${what} has ${text.length} characters, expected 81`);
  const g = new Uint8Array(81);
  for (let i = 0; i < 81; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9 || (d === 0 && !allowBlank)) {
      const allowed = allowBlank ? '0-9' : '1-9';
      fail(source, line, `${what} character ${i + 1} is '${text[i]}', expected a digit ${allowed}`);
    }
    g[i] = d;
  }
  return g;
}

function cellName(i: number): string {
  return `r${Math.floor(i / 9) + 1}c${(i % 9) + 1}`;
}

/**
 * Parses the RRN Sudoku CSV format: one `quiz,solution` line per puzzle, two 81-digit strings
 * (0 = blank), no header (a word header such as `quizzes,solutions` is skipped). Columns are
 * read as strings, so leading zeros are kept. Any malformed line (field count, length,
 * characters, givens that repeat a digit, a solution that is not a valid grid or that
 * contradicts a given) is rejected with `INVALID_INPUT` naming `source:line` and the reason.
 *
 * @example
 * const puzzles = parseRrnCsv(text, 'test.csv');
 */
export function parseRrnCsv(text: string, source = '<csv>'): Puzzle[] {
  const lines = text.split('\n');
  const out: Puzzle[] = [];
  for (let n = 0; n < lines.length; n++) {
    const raw = (lines[n] as string).replace(/\r$/, '');
    const line = n + 1;
    if (raw.trim() === '') {
      if (lines.slice(n + 1).every((l) => l.trim() === '')) break;
      fail(source, line, 'empty line');
    }
    if (n === 0 && HEADER.test(raw.trim())) continue;
    const fields = raw.split(',').map((f) => f.trim());
    if (fields.length !== 2)
      fail(source, line, `expected 2 fields 'quiz,solution', got ${fields.length}`);
    const quiz = parseGrid(fields[0] as string, 'quiz', true, source, line);
    const solution = parseGrid(fields[1] as string, 'solution', false, source, line);
    const clash = firstConflict(quiz);
    if (clash !== -1)
      fail(
        source,
        line,
        `quiz givens contradict each other: digit ${quiz[clash]} at ${cellName(clash)} repeats in its row, column or box`,
      );
    if (!isConsistent(solution)) {
      const bad = firstConflict(solution);
      fail(
        source,
        line,
        `solution is not a valid Sudoku grid: digit ${solution[bad]} at ${cellName(bad)} repeats in its row, column or box`,
      );
    }
    for (let i = 0; i < 81; i++) {
      if (quiz[i] !== 0 && quiz[i] !== solution[i]) {
        fail(
          source,
          line,
          `quiz given ${quiz[i]} at ${cellName(i)} contradicts the solution's ${solution[i]}`,
        );
      }
    }
    out.push({ quiz, solution });
  }
  return out;
}

/** Reads an RRN CSV file; see {@link parseRrnCsv}. A missing file is `NOT_FOUND`. */
export function readRrnCsv(path: string): Puzzle[] {
  // Only a regular file is read (a FIFO or /dev/zero is refused at once, naming the file).
  const bytes = readRegularFile(path, 2 ** 31 - 1, 'an RRN puzzle CSV');
  return parseRrnCsv(
    Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'),
    path,
  );
}

/** The RRN CSV text of puzzles: `quiz,solution` lines, no header. */
export function formatRrnCsv(puzzles: readonly Puzzle[]): string {
  return puzzles.map((p) => `${gridToString(p.quiz)},${gridToString(p.solution)}\n`).join('');
}

/** Writes puzzles as an RRN CSV file (see {@link formatRrnCsv}). */
export function writeRrnCsv(path: string, puzzles: readonly Puzzle[]): void {
  writeFileSync(path, formatRrnCsv(puzzles));
}
