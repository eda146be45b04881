export type {
  CloseInfo,
  EpisodeRecord,
  FlushOptions,
  HistogramRecord,
  MetricRow,
  NoticeRecord,
  PictureRecord,
  RunInfo,
  Sink,
} from './types.js';
export { EPISODE_PICTURE, ExperimentLogger } from './experimentLogger.js';
export type {
  ExperimentLoggerOptions,
  LogOptions,
  LoggerState,
  LoggerStats,
  PictureRenderer,
  SinkEntry,
} from './experimentLogger.js';
export {
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
export { sampleBatch } from './batched.js';
export type { BatchData } from './batched.js';
export type { ArrayStats, NumericLike, TensorLike } from './arrays.js';
export { makeHistogram } from './histogram.js';
export { parseJson } from './json.js';
export { jsonlSink, readJsonl } from './sinks/jsonlSink.js';
export type { JsonlSinkOptions } from './sinks/jsonlSink.js';
export { tensorboardSink } from './tensorboard/tensorboardSink.js';
export type { TensorboardSinkOptions } from './tensorboard/tensorboardSink.js';
export { decodeEvent, readEventFile, readRecords } from './tensorboard/events.js';
export type { DecodedEvent, DecodedValue, EventFields } from './tensorboard/events.js';
export { svgSink } from './svg/svgSink.js';
export type { SvgSinkOptions } from './svg/svgSink.js';
export { lineChartSvg, panelsSvg } from './svg/lineChart.js';
export type { LineChartOptions, Marker, PanelsOptions, RefLine, Series } from './svg/lineChart.js';
export { colorbarSvg, heatmapSvg } from './svg/heatmap.js';
export type { HeatmapOptions } from './svg/heatmap.js';
export { tableSvg } from './svg/table.js';
export type { TableOptions } from './svg/table.js';
export { esc as svgEscape, fmt as formatNumber, PALETTE as chartPalette } from './svg/svgText.js';
export { TrajectoryLogger } from './trajectory/trajectoryLogger.js';
export type {
  StateArray,
  StateTransform,
  TrajectoryInit,
  TrajectoryLoggerOptions,
  TrajectoryStep,
} from './trajectory/trajectoryLogger.js';
export { loadTrajectory, readNpz } from './trajectory/npzReader.js';
export type { LoadedTrajectory } from './trajectory/npzReader.js';
export type { NpyArray, NpyDType } from './trajectory/npy.js';
export { WandbSink, createWandbSink } from './wandb/wandbSink.js';
export type { WandbSinkOptions, WandbSinkState } from './wandb/wandbSink.js';
export { syncOfflineRun } from './wandb/sync.js';
export type { SyncOptions, SyncResult } from './wandb/sync.js';
export { resolveWandbSettings, wandbConfigSchema, ApiKey } from './wandb/settings.js';
export type { ResolveWandbOptions, WandbConfig, WandbSettings } from './wandb/settings.js';
export type { NetrcEntry } from './wandb/netrc.js';
export { consoleSink } from './console/consoleSink.js';
export type { ConsoleSinkOptions } from './console/consoleSink.js';
export { createRunLogger, closeOnSignals } from './runLogger.js';
export type { RunLoggerOptions } from './runLogger.js';
