import './registerGradients.js';
export * as tf from '@tensorflow/tfjs-core';
export {
  BACKEND_NAMES,
  currentBackend,
  initBackend,
  probeBackends,
  withBackend,
} from './backend.js';
export type {
  BackendInfo,
  BackendName,
  BackendOptions,
  BackendProbe,
  BackendRequest,
} from './backend.js';
export { exp, gelu, sigmoid, softplus, swish, tanh } from './activations.js';
export { conv2d, dense, groupNorm, matMul, withConvCache } from './layers.js';
export type { Conv2dOptions } from './layers.js';
export { fromTensorData, readTensorData, snapshotTensorData, toTensorData } from './convert.js';
export type { FromTensorDataOptions } from './convert.js';
export { VariableSet } from './variableSet.js';
export { constant, glorotUniform, heNormal, zeros } from './init.js';
export { Adam, clipByGlobalNorm, globalNorm } from './adam.js';
export type { AdamOptions, AdamState } from './adam.js';
export { Ema } from './ema.js';
export { checkGradients, checkSecondOrder, gradientMatchingLoss } from './gradCheck.js';
export type { EnergyFn, GradCheckOptions, GradCheckResult } from './gradCheck.js';
export { selfCheck } from './selfCheck.js';
export type { SelfCheckReport, SelfCheckRow } from './selfCheck.js';
export { WorkerPool } from './workerPool.js';
export type { WorkerPoolOptions } from './workerPool.js';
export { serveWorker } from './workerServe.js';
export type { ServeWorkerOptions } from './workerServe.js';
