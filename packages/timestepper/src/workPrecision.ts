import { XError } from '@x/core';
import { totalEnergy, type NBodyState } from './nbody.js';
import { energyTangent, leapfrogStepWithTangents, zeroTangent, type Tangent } from './tangent.js';

/** Options of the work–precision objective. */
export interface WorkPrecisionOptions {
  /** The energy-error tolerance the benchmark scores at (max |ΔE/E0|). */
  tolerance: number;
  /** Exponent of the soft maximum of the errors (the p-norm; large p → max). */
  power: number;
  /** Order of the integrator (2 for leapfrog): error ∝ dt^order under a uniform rescaling of dt. */
  order: number;
  /**
   * Steps a step size's tangent is carried (default: all, the exact gradient). After `window`
   * steps the derivative of the energy with respect to that dt is frozen: its local effect (the
   * energy offset it caused) is kept, its effect on the orbit's phase is dropped. The rule under
   * training adapts dt to the state, so in closed loop a phase shift does not persist the way the
   * open-loop derivative (later steps held fixed) says it does; over long rollouts that open-loop
   * term dominates the exact gradient and points the wrong way.
   */
  window?: number;
}

/** Value of the objective and its exact derivative with respect to every step size. */
export interface WorkPrecisionValue {
  /**
   * `J = (1/order)·ln(M_p / tol) + ln(R / T)`: the log of the estimated number of steps per unit
   * time at the tolerance (R steps covered time T with soft-max error M_p).
   */
  objective: number;
  /** ∂J/∂dt_k for every step k (float64, forward mode; exact when the window covers the rollout). */
  grad: Float64Array;
  /** Soft maximum `M_p = (mean_k e_k^p)^{1/p}` of the relative energy errors. */
  softMax: number;
  /** The plain maximum of the relative energy errors. */
  maxRel: number;
  steps: number;
  time: number;
}

const FLOOR = 1e-16;

/**
 * Accumulates the work–precision objective along a rollout of one system: call {@link step} with
 * each step size (in order), then {@link finish}. Each step's tangent is carried through the next
 * `window` steps (all by default: the exact gradient), so a rollout of R steps costs R force
 * evaluations plus about R·min(R, window) Jacobian-vector products. Under a uniform rescaling dt → s·dt the leapfrog error scales as s^order and the step
 * count as 1/s, so J is (to leading order) independent of the rule's overall scale: it measures
 * only how well the rule distributes its steps, which is what the benchmark's tolerance sweep
 * rewards.
 */
export class WorkPrecisionAccumulator {
  readonly #s: NBodyState;
  readonly #opts: WorkPrecisionOptions;
  readonly #E0: number;
  /** Tangents still carried (the last `window` steps), with their step index. */
  #active: { j: number; T: Tangent }[] = [];
  /** ∂E/∂dt_j: current for carried tangents, frozen for older ones. */
  #dE: number[] = [];
  #dts: number[] = [];
  /** G_j = Σ_k u_k / e_k · ∂e_k/∂dt_j with u_k = (e_k / ref)^p. */
  #G: number[] = [];
  #S = 0;
  #ref = 0;
  #max = 0;

  /** Takes ownership of `s` (a one-system state, advanced in place). */
  constructor(s: NBodyState, options: WorkPrecisionOptions) {
    if (s.B !== 1) throw new XError('INVALID_INPUT', 'WorkPrecisionAccumulator: expects B = 1');
    this.#s = s;
    this.#opts = options;
    this.#E0 = totalEnergy(s, 0);
    if (!(Math.abs(this.#E0) > 0))
      throw new XError('NUMERICAL', 'WorkPrecisionAccumulator: initial energy is zero');
  }

  /** The state being advanced. */
  get state(): NBodyState {
    return this.#s;
  }

  /** The step sizes taken so far. */
  get steps(): readonly number[] {
    return this.#dts;
  }

  /** Relative energy error of the current state. */
  get relError(): number {
    return Math.abs(totalEnergy(this.#s, 0) - this.#E0) / Math.abs(this.#E0);
  }

  /** Advances one KDK step of size `dt` and returns the relative energy error after it. */
  step(dt: number): number {
    const s = this.#s;
    const own = zeroTangent(s.N);
    const j0 = this.#dts.length;
    leapfrogStepWithTangents(
      s,
      0,
      dt,
      this.#active.map((a) => a.T),
      own,
    );
    this.#active.push({ j: j0, T: own });
    this.#dts.push(dt);
    this.#G.push(0);
    this.#dE.push(0);
    for (const a of this.#active) this.#dE[a.j] = energyTangent(s, 0, a.T);
    if (this.#active.length >= (this.#opts.window ?? Infinity)) this.#active.shift();
    const dE = totalEnergy(s, 0) - this.#E0;
    const e = Math.abs(dE) / Math.abs(this.#E0) + FLOOR;
    if (!Number.isFinite(e)) {
      this.#max = Infinity;
      return Infinity;
    }
    this.#max = Math.max(this.#max, e - FLOOR);
    const p = this.#opts.power;
    if (e > this.#ref) {
      const c = this.#ref > 0 ? (this.#ref / e) ** p : 0;
      this.#S *= c;
      for (let j = 0; j < this.#G.length; j++) this.#G[j] = (this.#G[j] as number) * c;
      this.#ref = e;
    }
    const u = (e / this.#ref) ** p;
    this.#S += u;
    const w = (u / e) * (Math.sign(dE) / Math.abs(this.#E0));
    if (w !== 0) {
      for (let j = 0; j <= j0; j++)
        this.#G[j] = (this.#G[j] as number) + w * (this.#dE[j] as number);
    }
    return e - FLOOR;
  }

  /** The objective over the steps taken so far and its gradient with respect to each dt. */
  finish(): WorkPrecisionValue {
    const R = this.#dts.length;
    if (R === 0) throw new XError('INVALID_INPUT', 'WorkPrecisionAccumulator: no steps taken');
    const { tolerance, power, order } = this.#opts;
    const T = this.#dts.reduce((a, b) => a + b, 0);
    const grad = new Float64Array(R);
    if (!Number.isFinite(this.#max)) {
      return {
        objective: Infinity,
        grad,
        softMax: Infinity,
        maxRel: Infinity,
        steps: R,
        time: T,
      };
    }
    const softMax = this.#ref * (this.#S / R) ** (1 / power);
    for (let j = 0; j < R; j++) grad[j] = (this.#G[j] as number) / this.#S / order - 1 / T;
    return {
      objective: Math.log(softMax / tolerance) / order + Math.log(R / T),
      grad,
      softMax,
      maxRel: this.#max,
      steps: R,
      time: T,
    };
  }
}
