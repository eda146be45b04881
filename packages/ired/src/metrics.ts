import { XError } from '@x/core';
import { type Grid, isConsistent } from './sudoku.js';

/** The score of one predicted board. */
export interface BoardScore {
  /** Blank cells of the quiz. */
  blanks: number;
  /** Blank cells whose predicted digit equals the solution's. */
  blanksCorrect: number;
  /** `blanksCorrect / blanks`, 1 for a quiz without blanks. */
  blankAccuracy: number;
  /** The prediction equals the solution. */
  exact: boolean;
  /** Every row, column and box of the prediction is a permutation of 1..9. */
  consistent: boolean;
  /** Consistent and keeps every given: a valid solution of the quiz (equals `exact` for unique puzzles). */
  valid: boolean;
}

/** Aggregate metrics over boards; every board counts once. */
export interface SudokuMetrics {
  boards: number;
  blankCells: number;
  /** Correct blank cells over all blank cells (micro average; the paper's "accuracy"). */
  blankCellAccuracy: number;
  /** Mean of per-board blank accuracies (macro average). */
  meanBoardBlankAccuracy: number;
  /** Fraction of boards predicted exactly (strict solve rate). */
  boardAccuracy: number;
  /** Fraction of boards whose rows, columns and boxes are all permutations. */
  consistency: number;
  /** Fraction of boards that are valid solutions of their quiz. */
  validRate: number;
}

/** Scores one prediction against its quiz and solution. */
export function scoreBoard(quiz: Grid, solution: Grid, prediction: Grid): BoardScore {
  let blanks = 0;
  let blanksCorrect = 0;
  let exact = true;
  let keepsGivens = true;
  for (let i = 0; i < 81; i++) {
    const p = prediction[i];
    if (p !== solution[i]) exact = false;
    if (quiz[i] === 0) {
      blanks++;
      if (p === solution[i]) blanksCorrect++;
    } else if (p !== quiz[i]) keepsGivens = false;
  }
  const consistent = isConsistent(prediction);
  return {
    blanks,
    blanksCorrect,
    blankAccuracy: blanks === 0 ? 1 : blanksCorrect / blanks,
    exact,
    consistent,
    valid: consistent && keepsGivens,
  };
}

/** Aggregates board scores; throws on an empty list (nothing to report). */
export function summarizeScores(scores: readonly BoardScore[]): SudokuMetrics {
  if (scores.length === 0) throw new XError('INVALID_INPUT', 'no boards to score');
  let blankCells = 0;
  let correct = 0;
  let macro = 0;
  let exact = 0;
  let consistent = 0;
  let valid = 0;
  for (const s of scores) {
    blankCells += s.blanks;
    correct += s.blanksCorrect;
    macro += s.blankAccuracy;
    if (s.exact) exact++;
    if (s.consistent) consistent++;
    if (s.valid) valid++;
  }
  const n = scores.length;
  return {
    boards: n,
    blankCells,
    blankCellAccuracy: blankCells === 0 ? 1 : correct / blankCells,
    meanBoardBlankAccuracy: macro / n,
    boardAccuracy: exact / n,
    consistency: consistent / n,
    validRate: valid / n,
  };
}

/** Scores every board (predictions[i] against quizzes[i] / solutions[i]) and aggregates. */
export function evaluateBoards(
  quizzes: readonly Grid[],
  solutions: readonly Grid[],
  predictions: readonly Grid[],
): { metrics: SudokuMetrics; boards: BoardScore[] } {
  if (quizzes.length !== solutions.length || quizzes.length !== predictions.length) {
    throw new XError(
      'INVALID_INPUT',
      `evaluateBoards: ${quizzes.length} quizzes, ${solutions.length} solutions, ${predictions.length} predictions; expected equal counts`,
    );
  }
  const boards = quizzes.map((q, i) => scoreBoard(q, solutions[i] as Grid, predictions[i] as Grid));
  return { metrics: summarizeScores(boards), boards };
}
