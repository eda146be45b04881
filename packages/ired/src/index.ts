export {
  cpuPreset,
  dataSchema,
  diffusionSchema,
  iredConfigSchema,
  iredConfigShape,
  modelSchema,
  paperPreset,
  parseIredConfig,
  presets,
  sampleSchema,
  trainSchema,
} from './config.js';
export type {
  DataConfig,
  DiffusionConfig,
  IredConfig,
  ModelConfig,
  PresetName,
  SampleConfig,
  TrainConfig,
} from './config.js';
export { formatRrnCsv, parseRrnCsv, readRrnCsv, writeRrnCsv } from './csv.js';
export { PuzzleStream } from './data.js';
export { ComponentGroup, NestedComponent, nestKeys } from './nested.js';
export type { PuzzleStreamState } from './data.js';
export { BOARD_SIZE, decodeBoard, encodeBatch, encodeGrid, givensMask } from './encoding.js';
export {
  HARD_GIVENS,
  SATNET_GIVENS,
  generatePuzzle,
  generatePuzzles,
  givensOf,
  puzzleAt,
  randomSolution,
} from './generator.js';
export type { GivensRange, Puzzle } from './generator.js';
export { lossAndGrads, lossParts, makeLossBatch } from './loss.js';
export type { LossAndGrads, LossBatch, LossParts } from './loss.js';
export { evaluateBoards, scoreBoard, summarizeScores } from './metrics.js';
export type { BoardScore, SudokuMetrics } from './metrics.js';
export {
  energy,
  energyAndGrad,
  energyGrad,
  initParams,
  parameterCount,
  parameterShapes,
  sinusoidalFeatures,
} from './model.js';
export type { Params } from './model.js';
export { lowestEnergyRestart, reverseNoiseStd, sampleBoards, voteAnswers } from './sampler.js';
export type { SampleOptions, SampleResult, SamplerHooks, StepEvent } from './sampler.js';
export { cosineSchedule } from './schedule.js';
export type { Schedule } from './schedule.js';
export {
  boxOf,
  countGivens,
  countSolutions,
  firstConflict,
  gridFromString,
  gridToString,
  isConsistent,
  solve,
} from './sudoku.js';
export type { Grid } from './sudoku.js';
export { IredTrainer } from './trainer.js';
export type { StepMetrics, TrainCounters, TrainerOptions } from './trainer.js';
