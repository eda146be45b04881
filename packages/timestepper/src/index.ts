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
export type { Problem, ProblemName } from './problems.js';
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
export { cheapestWithin, defaultSweeps, runComparison } from './harness.js';
export type { BenchMethod, BenchPoint, BenchReport, MethodSweep } from './harness.js';
