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
export { parseJson, stringifyJson } from './json.js';
export { jsonlSink, metricRowJson, readJsonl } from './sinks/jsonlSink.js';
export type { JsonlSinkOptions } from './sinks/jsonlSink.js';
export { tensorboardSink } from './tensorboard/tensorboardSink.js';
export type { TensorboardSinkOptions } from './tensorboard/tensorboardSink.js';
export { crc32c, maskedCrc32c } from './tensorboard/crc32c.js';
export {
  decodeEvent,
  encodeEvent,
  frameRecord,
  histogramSummary,
  readEventFile,
  readRecords,
  scalarSummary,
  textSummary,
} from './tensorboard/events.js';
export type { DecodedEvent, DecodedValue, EventFields } from './tensorboard/events.js';
export { svgSink } from './svg/svgSink.js';
export type { SvgSinkOptions } from './svg/svgSink.js';
export { lineChartSvg, panelsSvg } from './svg/lineChart.js';
export type { LineChartOptions, Marker, PanelsOptions, RefLine, Series } from './svg/lineChart.js';
export { colorbarSvg, colormap, heatmapSvg } from './svg/heatmap.js';
export type { HeatmapOptions } from './svg/heatmap.js';
export { tableSvg } from './svg/table.js';
export type { TableOptions } from './svg/table.js';
export { esc as svgEscape, fmt as formatNumber } from './svg/svgText.js';
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
export { decodeNpy, encodeNpy, npyHeader } from './trajectory/npy.js';
export type { NpyArray, NpyDType } from './trajectory/npy.js';
export { WandbSink, createWandbSink, MAX_LINE_BYTES } from './wandb/wandbSink.js';
export type { WandbSinkOptions, WandbSinkState } from './wandb/wandbSink.js';
export { syncOfflineRun } from './wandb/sync.js';
export type { SyncOptions, SyncResult } from './wandb/sync.js';
export {
  resolveWandbSettings,
  wandbConfigSchema,
  ApiKey,
  DEFAULT_BASE_URL,
} from './wandb/settings.js';
export type { ResolveWandbOptions, WandbConfig, WandbSettings } from './wandb/settings.js';
export { parseNetrc, netrcPassword } from './wandb/netrc.js';
export type { NetrcEntry } from './wandb/netrc.js';
export { parseExtendedJson, toExtendedJson } from './wandb/extJson.js';
export { consoleSink } from './console/consoleSink.js';
export type { ConsoleSinkOptions } from './console/consoleSink.js';
export { createRunLogger, closeOnSignals } from './runLogger.js';
export type { RunLoggerOptions } from './runLogger.js';
