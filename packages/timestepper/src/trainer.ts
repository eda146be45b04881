import { Rng, ValueComponent, type ComponentMap } from '@x/core';
import { Adam } from '@x/tensor';
import { ReplayBuffer } from './buffer.js';
import { Collector, type CollectStepMetrics } from './collector.js';
import type { TrainConfig } from './config.js';
import { TRANSITION_FEATURES, featureSize } from './features.js';
import { DtModel } from './model.js';
import { makeProblem, type Problem } from './problems.js';
import { rollout } from './rollout.js';
import { workPrecisionEpoch, type WorkPrecisionEpochMetrics } from './wpTrain.js';

/** Counters of a training run (a `Component` through {@link TimestepTrainer.components}). */
export interface TrainProgress {
  [key: string]: number;
  epoch: number;
  retrains: number;
  rejects: number;
  capHits: number;
  accepted: number;
}

/** Metrics of one epoch (Part-1 collection, then Part-2 replay). */
export interface EpochMetrics {
  epoch: number;
  retrains: number;
  rejects: number;
  capHits: number;
  acceptUpdates: number;
  meanAcceptedError: number;
  maxAcceptedError: number;
  meanDt: number;
  meanDtOverTau: number;
  buffered: number;
  bufferSize: number;
  replayUpdates: number;
  replayLoss: number;
  /** Fraction of Part-2 rollouts whose cumulative error stayed below the gate threshold. */
  replayPassRate: number;
  replayDtOverTau: number;
  optimizerSteps: number;
  /** Work–precision metrics (only when `config.workPrecision` is set). */
  wp?: WorkPrecisionEpochMetrics;
}

/**
 * The two-phase trainer of the learned time-step model. Each epoch runs `part1.stepsPerEpoch`
 * collection steps (accept/reject with the retrain loop) and then `part2.replaySteps` rollout
 * updates on minibatches drawn from the replay buffer with the seeded stream
 * `replay/<epoch>/<i>`. With `config.workPrecision` an epoch is instead a number of updates on
 * the work–precision objective over long rollouts ({@link workPrecisionEpoch}). Every piece of state is a `Component` ({@link components}), so a run
 * restored from a checkpoint continues bit for bit.
 */
export class TimestepTrainer {
  readonly config: TrainConfig;
  readonly problem: Problem;
  readonly root: Rng;
  readonly model: DtModel;
  readonly optimizer: Adam;
  readonly collector: Collector;
  readonly buffer: ReplayBuffer;
  readonly progress: ValueComponent<TrainProgress>;

  constructor(config: TrainConfig, seed: number) {
    this.config = config;
    this.root = Rng.fromSeed(seed);
    this.problem = makeProblem(config.problem);
    const K = config.model.historyLen;
    this.model = new DtModel(
      {
        inputs: featureSize(K),
        hidden: config.model.hidden,
        logEta0: Math.log(config.model.eta0),
        range: config.model.range,
      },
      this.root.stream('model'),
    );
    this.optimizer = new Adam(this.model.params, {
      learningRate: config.optimizer.learningRate,
      clipGlobalNorm: config.optimizer.clipGlobalNorm,
    });
    this.collector = new Collector(config, this.problem.ic, this.root);
    this.buffer = new ReplayBuffer(
      config.part2.bufferSize,
      this.problem.ic.N,
      K * TRANSITION_FEATURES,
    );
    this.progress = new ValueComponent<TrainProgress>({
      epoch: 0,
      retrains: 0,
      rejects: 0,
      capHits: 0,
      accepted: 0,
    });
  }

  /** Everything a checkpoint must hold to resume exactly. */
  components(): ComponentMap {
    return {
      model: this.model,
      optimizer: this.optimizer,
      collector: this.collector,
      buffer: this.buffer,
      progress: this.progress,
    };
  }

  /** Runs one epoch; `onStep` sees each Part-1 collection step's metrics. */
  async epoch(onStep?: (index: number, m: CollectStepMetrics) => void): Promise<EpochMetrics> {
    const cfg = this.config;
    const p = this.progress.value;
    const m: EpochMetrics = {
      epoch: p.epoch,
      retrains: 0,
      rejects: 0,
      capHits: 0,
      acceptUpdates: 0,
      meanAcceptedError: 0,
      maxAcceptedError: 0,
      meanDt: 0,
      meanDtOverTau: 0,
      buffered: 0,
      bufferSize: 0,
      replayUpdates: 0,
      replayLoss: 0,
      replayPassRate: 0,
      replayDtOverTau: 0,
      optimizerSteps: 0,
    };
    if (cfg.workPrecision !== null) {
      m.wp = await workPrecisionEpoch(
        this.model,
        this.optimizer,
        this.root,
        cfg,
        this.problem.ic,
        p.epoch,
      );
      m.optimizerSteps = this.optimizer.step;
      this.progress.value = { ...p, epoch: p.epoch + 1 };
      return m;
    }
    const S = cfg.part1.stepsPerEpoch;
    for (let i = 0; i < S; i++) {
      const c = await this.collector.collectStep(this.model, this.optimizer, this.buffer);
      onStep?.(i, c);
      m.retrains += c.retrains;
      m.rejects += c.rejects;
      m.capHits += c.capHits;
      m.acceptUpdates += c.acceptUpdates;
      m.meanAcceptedError += c.meanAcceptedError / S;
      m.maxAcceptedError = Math.max(m.maxAcceptedError, c.maxAcceptedError);
      m.meanDt += c.meanDt / S;
      m.meanDtOverTau += c.meanDtOverTau / S;
      m.buffered += c.buffered;
    }
    let rollouts = 0;
    if (this.buffer.size >= cfg.part2.minBuffer) {
      for (let r = 0; r < cfg.part2.replaySteps; r++) {
        const rng = this.root.stream('replay', p.epoch, r);
        const inputs: Float64Array[] = [];
        const coeffs: number[] = [];
        const M = cfg.part2.batch;
        for (let k = 0; k < M; k++) {
          const res = rollout(
            this.model,
            this.buffer.get(rng.int(0, this.buffer.size)),
            this.problem.ic.eps,
            cfg,
          );
          inputs.push(...res.inputs);
          coeffs.push(...res.coeffs.map((c) => c / M));
          m.replayLoss += res.loss;
          m.replayPassRate += res.maxRel < cfg.gate.threshold ? 1 : 0;
          m.replayDtOverTau += res.meanDtOverTau;
          rollouts++;
        }
        await this.model.update(this.optimizer, inputs, coeffs);
        m.replayUpdates++;
      }
    }
    if (rollouts > 0) {
      m.replayLoss /= rollouts;
      m.replayPassRate /= rollouts;
      m.replayDtOverTau /= rollouts;
    }
    m.bufferSize = this.buffer.size;
    m.optimizerSteps = this.optimizer.step;
    this.progress.value = {
      epoch: p.epoch + 1,
      retrains: p.retrains + m.retrains,
      rejects: p.rejects + m.rejects,
      capHits: p.capHits + m.capHits,
      accepted: p.accepted + S * this.collector.B,
    };
    return m;
  }

  dispose(): void {
    this.model.dispose();
  }
}
