export {
  CATEGORICAL_VALUES,
  DEFAULT_PARAMETER_SPACE,
  PARAMETER_NAMES,
  blockChannels,
  mapParameters,
  parameterSpecSchema,
  validateOperatorParams,
  validateSpace,
} from './paramSpace.js';
export type { OperatorParams, ParameterName, ParameterSpace, ParameterSpec } from './paramSpace.js';
export {
  configFromJson,
  configToJson,
  datasetConfigSchema,
  resolveDatasetConfig,
} from './datasetConfig.js';
export type { DatasetConfig, DatasetConfigInput } from './datasetConfig.js';
export { SEED_SCHEME, operatorSeed, operatorStreams, sampleUnitCube } from './seeds.js';
export type { OperatorStreams } from './seeds.js';
export { blurCircular, initialCondition, noiseAmplitude, noiseField } from './fields.js';
export { OperatorNet } from './operator.js';
export { hashFloat32, operatorSpec, rolloutOperator } from './rollout.js';
export type { OperatorSpec, RolloutOptions, RolloutResult } from './rollout.js';
export { FIELD_STAT_NAMES, fieldStatistics, powerSpectrum } from './fieldStats.js';
export {
  familyNames,
  getFamily,
  registerFamily,
  summaryFamily,
  temporalFamily,
} from './features.js';
export type { FeatureDatasetSpec, FeatureFamily, TrajectoryShape } from './features.js';
export { assertEnvironment, currentEnvironment, environmentDifferences } from './environment.js';
export type { Environment } from './environment.js';
export {
  DatasetReader,
  DatasetWriter,
  FILE_FORMAT,
  FILE_FORMAT_VERSION,
  PATHS,
  readHeader,
  trajectoryShape,
} from './datasetFile.js';
export type { DatasetHeader, FeatureRegistry, OperatorRecord } from './datasetFile.js';
export { computeOperator, generateDataset, parseShard, shardRange } from './generate.js';
export type { GenerateOptions, GenerateResult, Shard } from './generate.js';
export { extractFamily, parseIndices, replayDataset, verifyDataset } from './replay.js';
export type { ExtractOptions, ReplayMismatch, ReplayOptions, ReplayReport } from './replay.js';
export { contentDigest, mergeShards } from './merge.js';
export { h5ready } from './h5io.js';
export { trajectorySvg } from './trajectorySvg.js';
export type { TrajectorySvgOptions } from './trajectorySvg.js';
