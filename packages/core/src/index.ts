export { ErrorCodes, ExitCodes, XError, exitCodeFor, isXError, toXError } from './errors.js';
export type { ErrorCode, XErrorOptions } from './errors.js';
export {
  DTYPES,
  assertStateMatches,
  cloneState,
  dtypeByteSize,
  isImmutable,
  isTensorData,
  joinPath,
  markImmutable,
  releaseSnapshot,
  setOwn,
  shapeSize,
  statesEqual,
  sharedTensorData,
  tensorData,
  walkState,
} from './state.js';
export type {
  AnyTypedArray,
  DType,
  MatchOptions,
  State,
  StateLeaf,
  StateObject,
  TensorData,
  TypedArrayFor,
} from './state.js';
export { ValueComponent, captureSnapshot, captureState } from './component.js';
export type { CapturedSnapshot, Component, ComponentMap } from './component.js';
export { stateDigest, stateDigestParts } from './digest.js';
export { Rng, RngStreams } from './rng.js';
export type { RngState, RngStreamsState, StreamPart } from './rng.js';
export {
  applyOverrides,
  deepMerge,
  formatIssues,
  loadYamlFile,
  MAX_CONFIG_BYTES,
  openFailure,
  parseConfig,
  parseYaml,
  readRegularFile,
  resolveConfig,
} from './config.js';
export type { ResolveConfigOptions } from './config.js';
export { suggest } from './suggest.js';
