import {
  XError,
  isTensorData,
  tensorData,
  type Component,
  type Rng,
  type TensorData,
} from '@x/core';
import type { Adam } from '@x/tensor';
import type { ReplayBuffer } from './buffer.js';
import type { TrainConfig } from './config.js';
import { TRANSITION_FEATURES, pushHistory, transitionFeatures } from './features.js';
import type { DtModel } from './model.js';
import {
  copySystem,
  createState,
  extractSystem,
  freeFallTau,
  leapfrogStep,
  totalEnergy,
  type InitialConditions,
  type NBodyState,
} from './nbody.js';
import { predictDt } from './predict.js';
import { randomSystem, stackIC } from './problems.js';
import { stepWithLoss } from './stepLoss.js';

/** Part-1 metrics of one collection step (every system advanced by one accepted step). */
export interface CollectStepMetrics {
  /** Optimizer steps taken because some system failed the gate. */
  retrains: number;
  /** Rejected attempts (system × retry). */
  rejects: number;
  /** Systems accepted by the dt-halving fallback after the retry cap was hit. */
  capHits: number;
  /** Optimizer steps taken on an all-accepted attempt (band loss below E_lower). */
  acceptUpdates: number;
  meanAcceptedError: number;
  maxAcceptedError: number;
  /** Mean accepted dt / τ. */
  meanDtOverTau: number;
  meanDt: number;
  /** Samples added to the replay buffer (warm-up steps feed the history only). */
  buffered: number;
}

/** Saved state of a {@link Collector}. */
export interface CollectorState {
  [key: string]: TensorData | number[] | number;
  x: TensorData;
  v: TensorData;
  a: TensorData;
  m: TensorData;
  pot: TensorData;
  t: TensorData;
  forceEvals: TensorData;
  history: TensorData;
  stepsSinceReset: number[];
  draws: number;
}

/**
 * The training systems of Part 1 and their histories: `B` systems of the problem's family (item 0
 * the problem itself when configured), each advanced by accepted steps and replaced by a fresh
 * seeded random system after `resetAfter` steps. A `Component` for exact resume.
 */
export class Collector implements Component<CollectorState> {
  readonly config: TrainConfig;
  readonly problemIC: InitialConditions;
  readonly root: Rng;
  readonly K: number;
  sys: NBodyState;
  history: Float64Array;
  stepsSinceReset: number[];
  draws = 0;

  constructor(config: TrainConfig, problemIC: InitialConditions, root: Rng) {
    this.config = config;
    this.problemIC = problemIC;
    this.root = root;
    this.K = config.model.historyLen;
    const B = config.batch;
    this.stepsSinceReset = new Array<number>(B).fill(0);
    this.history = new Float64Array(B * this.K * TRANSITION_FEATURES);
    this.sys = createState(stackIC(Array.from({ length: B }, (_, b) => this.#draw(b))));
  }

  get B(): number {
    return this.sys.B;
  }

  /** History slots of system `b` (a view). */
  historyOf(b: number): Float64Array {
    const h = this.K * TRANSITION_FEATURES;
    return this.history.subarray(b * h, (b + 1) * h);
  }

  /** Replaces system `b` by the problem (b = 0 with includeProblem) or a fresh random system. */
  reset(b: number): void {
    const one = createState(this.#draw(b));
    copySystem(one, 0, this.sys, b);
    this.historyOf(b).fill(0);
    this.stepsSinceReset[b] = 0;
  }

  #draw(b: number): InitialConditions {
    let ic: InitialConditions;
    if (b === 0 && this.config.includeProblem) ic = this.problemIC;
    else {
      ic = randomSystem(
        this.config.problem,
        this.root.stream('system', this.draws),
        this.config.plummerN,
        this.config.family,
      );
      this.draws++;
    }
    if (ic.N !== this.problemIC.N) {
      throw new XError(
        'INVALID_CONFIG',
        `plummerN: training systems must have the problem's N = ${this.problemIC.N}, got ${ic.N}`,
      );
    }
    return { ...ic, eps: this.problemIC.eps };
  }

  /**
   * One Part-1 collection step: every system predicts dt, steps, and is accepted when its relative
   * energy error is below the gate; otherwise the model takes an optimizer step on the band loss
   * of the attempt and the failing systems retry from the same state.
   */
  async collectStep(
    model: DtModel,
    optimizer: Adam,
    buffer: ReplayBuffer,
  ): Promise<CollectStepMetrics> {
    const cfg = this.config;
    const band = { lower: cfg.loss.eLower, upper: cfg.loss.eUpper };
    const out: CollectStepMetrics = {
      retrains: 0,
      rejects: 0,
      capHits: 0,
      acceptUpdates: 0,
      meanAcceptedError: 0,
      maxAcceptedError: 0,
      meanDtOverTau: 0,
      meanDt: 0,
      buffered: 0,
    };
    let pending = Array.from({ length: this.B }, (_, b) => b);
    let retries = 0;
    while (pending.length > 0) {
      const inputs: Float64Array[] = [];
      const coeffs: number[] = [];
      const failed: number[] = [];
      let anyLoss = false;
      for (const b of pending) {
        const attempt = extractSystem(this.sys, b);
        const pred = predictDt(model, attempt, 0, this.historyOf(b), cfg.symmetric);
        const { rel, loss, dLossDdt: dLdt } = stepWithLoss(attempt, 0, pred.dt, band);
        if (loss > 0) anyLoss = true;
        for (const row of pred.rows) {
          inputs.push(row.input);
          coeffs.push((dLdt * row.dDtDraw) / pending.length);
        }
        if (rel < cfg.gate.threshold) this.#accept(b, attempt, pred.dt, pred.tau, rel, buffer, out);
        else failed.push(b);
      }
      if (failed.length === 0) {
        if (cfg.part1.trainOnAccept && anyLoss) {
          await model.update(optimizer, inputs, coeffs);
          out.acceptUpdates++;
        }
        break;
      }
      retries++;
      out.rejects += failed.length;
      if (cfg.gate.maxRetries !== null && retries > cfg.gate.maxRetries) {
        for (const b of failed) this.#fallback(b, model, buffer, out);
        out.capHits += failed.length;
        break;
      }
      await model.update(optimizer, inputs, coeffs);
      out.retrains++;
      pending = failed;
    }
    out.meanAcceptedError /= this.B;
    out.meanDtOverTau /= this.B;
    out.meanDt /= this.B;
    return out;
  }

  #fallback(b: number, model: DtModel, buffer: ReplayBuffer, out: CollectStepMetrics): void {
    const pred = predictDt(model, this.sys, b, this.historyOf(b), this.config.symmetric);
    let dt = pred.dt;
    for (let k = 0; k < 200; k++) {
      dt *= 0.5;
      const attempt = extractSystem(this.sys, b);
      const E0 = totalEnergy(attempt, 0);
      leapfrogStep(attempt, 0, dt);
      const rel = Math.abs(totalEnergy(attempt, 0) - E0) / Math.abs(E0);
      if (rel < this.config.gate.threshold) {
        this.#accept(b, attempt, dt, pred.tau, rel, buffer, out);
        return;
      }
    }
    throw new XError(
      'NUMERICAL',
      `collector: system ${b} fails the energy gate even at dt = ${dt}`,
    );
  }

  #accept(
    b: number,
    attempt: NBodyState,
    dt: number,
    tau: number,
    rel: number,
    buffer: ReplayBuffer,
    out: CollectStepMetrics,
  ): void {
    const n3 = this.sys.N * 3;
    const hist = this.historyOf(b);
    if ((this.stepsSinceReset[b] as number) >= this.K) {
      buffer.push(
        this.sys.x.subarray(b * n3, (b + 1) * n3),
        this.sys.v.subarray(b * n3, (b + 1) * n3),
        this.sys.m.subarray(b * this.sys.N, (b + 1) * this.sys.N),
        hist,
        dt,
      );
      out.buffered++;
    }
    const tauEnd = freeFallTau(attempt.x, attempt.m, attempt.N, attempt.eps, 0);
    pushHistory(hist, transitionFeatures(dt, tau, tauEnd, rel));
    copySystem(attempt, 0, this.sys, b);
    out.meanAcceptedError += rel;
    out.maxAcceptedError = Math.max(out.maxAcceptedError, rel);
    out.meanDtOverTau += dt / tau;
    out.meanDt += dt;
    this.stepsSinceReset[b] = (this.stepsSinceReset[b] as number) + 1;
    if (this.stepsSinceReset[b] >= this.config.resetAfter) this.reset(b);
  }

  getState(): CollectorState {
    const { B, N } = this.sys;
    const f = (shape: number[], d: Float64Array) => tensorData('float64', shape, d);
    return {
      x: f([B, N, 3], this.sys.x),
      v: f([B, N, 3], this.sys.v),
      a: f([B, N, 3], this.sys.a),
      m: f([B, N], this.sys.m),
      pot: f([B], this.sys.pot),
      t: f([B], this.sys.t),
      forceEvals: f([B], this.sys.forceEvals),
      history: f([B, this.K * TRANSITION_FEATURES], this.history),
      stepsSinceReset: [...this.stepsSinceReset],
      draws: this.draws,
    };
  }

  setState(state: CollectorState): void {
    const { B, N } = this.sys;
    const fail = (path: string, msg: string) =>
      new XError('STATE_MISMATCH', `${path}: ${msg}`, { details: { path } });
    if (typeof state !== 'object' || state === null) throw fail('<root>', 'expected an object');
    const shapes: Record<string, number[]> = {
      x: [B, N, 3],
      v: [B, N, 3],
      a: [B, N, 3],
      m: [B, N],
      pot: [B],
      t: [B],
      forceEvals: [B],
      history: [B, this.K * TRANSITION_FEATURES],
    };
    for (const [key, shape] of Object.entries(shapes)) {
      const t = state[key];
      if (!isTensorData(t) || t.dtype !== 'float64') throw fail(key, 'expected a float64 tensor');
      if (t.shape.length !== shape.length || t.shape.some((d, k) => d !== shape[k]))
        throw fail(key, `expected shape [${shape.join(', ')}], got [${t.shape.join(', ')}]`);
    }
    const steps = state.stepsSinceReset;
    if (!Array.isArray(steps) || steps.length !== B)
      throw fail('stepsSinceReset', `expected ${B} integers`);
    steps.forEach((s, i) => {
      if (!Number.isInteger(s) || s < 0)
        throw fail(`stepsSinceReset/${i}`, `expected a non-negative integer, got ${String(s)}`);
    });
    if (!Number.isInteger(state.draws) || state.draws < 0)
      throw fail('draws', `expected a non-negative integer, got ${String(state.draws)}`);
    for (const k of Object.keys(state))
      if (!(k in shapes) && k !== 'stepsSinceReset' && k !== 'draws')
        throw fail(k, 'unexpected key');
    for (const key of Object.keys(shapes)) {
      const dst = key === 'history' ? this.history : this.sys[key as 'x'];
      dst.set((state[key] as TensorData).data);
    }
    this.stepsSinceReset = [...steps];
    this.draws = state.draws;
  }
}
