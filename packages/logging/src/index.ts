export type {
  CloseInfo,
  EpisodeRecord,
  HistogramRecord,
  MetricRow,
  NoticeRecord,
  PictureRecord,
  RunInfo,
  Sink,
} from './types.js';
export { ExperimentLogger } from './experimentLogger.js';
export type {
  ExperimentLoggerOptions,
  LogOptions,
  LoggerState,
  LoggerStats,
  PictureRenderer,
  SinkEntry,
} from './experimentLogger.js';
export {
  REMOVED_LOGGING_KEYS,
  cadenceSchema,
  defaultLoggingConfig,
  loadLoggingConfigYaml,
  loggingConfigSchema,
  loggingPreset,
  loggingPresetYaml,
  parseLoggingConfig,
} from './config.js';
export type {
  BatchedConfig,
  Cadence,
  LoggingConfig,
  LoggingPreset,
  SinksConfig,
} from './config.js';
export { aggregateBatch, sampleBatch, sampleIndices } from './batched.js';
export type { BatchData } from './batched.js';
export { arrayStats, isTensorLike, toFloat32, toFloat64 } from './arrays.js';
export type { ArrayStats, NumericLike, TensorLike } from './arrays.js';
export { makeHistogram } from './histogram.js';
