export {
  accelerations,
  angularMomentum,
  cloneNBody,
  copySystem,
  createState,
  extractSystem,
  freeFallTau,
  kineticEnergy,
  leapfrogStep,
  refreshForces,
  totalEnergy,
} from './nbody.js';
export type { InitialConditions, NBodyState } from './nbody.js';
export {
  accelerationJvp,
  energyTangent,
  leapfrogStepWithTangents,
  zeroTangent,
} from './tangent.js';
export type { Tangent } from './tangent.js';
export { accelerationDerivatives } from './derivatives.js';
export type { AccelerationDerivatives } from './derivatives.js';
export {
  PROBLEMS,
  centreOfMass,
  keplerIC,
  makeProblem,
  parseProblem,
  plummerIC,
  randomSystem,
  stackIC,
} from './problems.js';
export type { Problem, ProblemName, SystemFamily } from './problems.js';
export {
  aarsethRule,
  adaptiveRule,
  fixedRule,
  predictPositions,
  predictVelocities,
  symmetricDt,
  symmetricRule,
} from './stepRules.js';
export type { StepRule } from './stepRules.js';
export { integrate } from './integrate.js';
export type { IntegrateOptions, IntegrateResult } from './integrate.js';
export { cheapestWithin, defaultSweeps, operatingPoint, runComparison } from './harness.js';
export type {
  BenchMethod,
  BenchPoint,
  BenchReport,
  MethodSweep,
  OperatingPoint,
  OperatingPointOptions,
} from './harness.js';
export {
  STATE_FEATURES,
  TRANSITION_FEATURES,
  featureSize,
  modelInput,
  pushHistory,
  stateFeatures,
  transitionFeatures,
} from './features.js';
export type { StateFeatures } from './features.js';
export { DtModel } from './model.js';
export type { DtModelOptions, ModelState } from './model.js';
export { bandLoss } from './loss.js';
export type { Band, StepLoss } from './loss.js';
export { predictDt } from './predict.js';
export type { DtPrediction, PredictionRow } from './predict.js';
export { ReplayBuffer } from './buffer.js';
export type { ReplayBufferState, ReplaySample } from './buffer.js';
export { Collector } from './collector.js';
export type { CollectStepMetrics, CollectorState } from './collector.js';
export { rollout } from './rollout.js';
export type { RolloutResult } from './rollout.js';
export { learnedRule } from './learnedRule.js';
export type { LearnedRuleOptions } from './learnedRule.js';
export { defaultTrainConfig, defaultWorkPrecision, trainConfigSchema } from './config.js';
export type { TrainConfig } from './config.js';
export { TimestepTrainer } from './trainer.js';
export type { EpochMetrics, TrainProgress } from './trainer.js';
export { stepWithLoss } from './stepLoss.js';
export { validationSystems } from './wpValidate.js';
export type { ValidationOptions, ValidationResult } from './wpValidate.js';
export { trainAndSelect } from './wpSelect.js';
export type { SelectOptions, Selection } from './wpSelect.js';
