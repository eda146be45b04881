export { CheckpointManager } from './manager.js';
export { stepDirName } from './listing.js';
export { applyState } from './applyState.js';
export type {
  CheckpointInfo,
  CheckpointManagerOptions,
  RestoreOptions,
  RestoreResult,
  SaveOptions,
  SaveResult,
  VerifyResult,
} from './managerTypes.js';
export { loadCheckpoint, readSafetensorsFile, writeSafetensorsFile } from './checkpointIo.js';
export type { LoadedCheckpoint } from './checkpointIo.js';
export {
  CHECKPOINT_FORMAT,
  CHECKPOINT_FORMAT_VERSION,
  CHECKPOINT_LIBRARY_VERSION,
} from './manifest.js';
export type { Manifest } from './manifest.js';
export { RetentionSchema, bestStep, stepsToDelete } from './retention.js';
export type { RetentionCandidate, RetentionPolicy } from './retention.js';
export { decodeSafetensors, encodeSafetensors } from './safetensors.js';
export type { DecodedSafetensors, SafetensorsEntry, SafetensorsHeader } from './safetensors.js';
export { nodeFs } from './fsOps.js';
export type { FileLike, FsOps } from './fsOps.js';
export {
  classifyPath,
  inspectCheckpoint,
  listCheckpointDirs,
  listCheckpoints,
  loadFrom,
  restoreFrom,
} from './resolve.js';
export type {
  CheckpointSummary,
  ListedCheckpoint,
  ResolveOptions,
  ResolvedCheckpoint,
} from './resolve.js';
export { verifyCheckpoint } from './verify.js';
export { openRunCheckpoints } from './runCheckpoints.js';
export type { ResumePoint, RunCheckpointOptions, RunCheckpoints } from './runCheckpoints.js';
export { EpochCursor } from './epochCursor.js';
export type { EpochCursorState } from './epochCursor.js';
