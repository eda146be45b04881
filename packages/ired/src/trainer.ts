import * as tf from '@tensorflow/tfjs-core';
import { captureState, type ComponentMap, Rng, stateDigest, ValueComponent, XError } from '@x/core';
import type { VariableSet } from '@x/tensor';
import { Adam, currentBackend, Ema } from '@x/tensor';
import type { IredConfig } from './config.js';
import { PuzzleStream } from './data.js';
import { ComponentGroup, NestedComponent } from './nested.js';
import type { Puzzle } from './generator.js';
import { GradPool, type HostLossAndGrads } from './gradPool.js';
import { lossAndGrads, makeLossBatch, sliceLossBatch, type LossBatch } from './loss.js';
import { initParams, type Params } from './model.js';
import { cosineSchedule, type Schedule } from './schedule.js';

/** Counters of a training run. */
export interface TrainCounters {
  [key: string]: number;
  step: number;
}

/** What one training step reports. */
export interface StepMetrics {
  step: number;
  loss: number;
  mse: number;
  contrastive: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
}

/** Options of {@link IredTrainer}. */
export interface TrainerOptions {
  config: IredConfig;
  /** The run's root seed: initial weights, data and every noise draw derive from it. */
  seed: number;
  /** Training puzzles (e.g. read from `data.train.csv`); default: generated per `data.train`. */
  puzzles?: readonly Puzzle[];
}

/**
 * Trains the Sudoku energy model: Adam (clipped global norm) on the denoising + contrastive loss,
 * EMA of the weights. Step `s` draws its noise from `Rng.fromSeed(seed).stream('train', s)` and
 * its puzzles from a resumable {@link PuzzleStream}, so the whole run state is
 * {@link components}: restoring them and continuing gives bit-identical results.
 */
export class IredTrainer {
  readonly config: IredConfig;
  readonly schedule: Schedule;
  readonly params: VariableSet;
  readonly adam: Adam;
  readonly ema: Ema;
  readonly data: PuzzleStream;
  readonly counters = new ValueComponent<TrainCounters>({ step: 0 }, (s) => {
    const v = s as TrainCounters;
    if (typeof v !== 'object' || v === null || !Number.isSafeInteger(v.step) || v.step < 0) {
      throw new XError(
        'STATE_MISMATCH',
        `step: expected a non-negative integer, got ${JSON.stringify((v as Partial<TrainCounters> | null)?.step)}`,
      );
    }
    if (Object.keys(v).length !== 1)
      throw new XError('STATE_MISMATCH', `counters: unexpected keys ${Object.keys(v).join(', ')}`);
  });
  readonly #root: Rng;
  readonly #components: ComponentMap;
  #pool: GradPool | undefined;
  #lastPool: GradPool | undefined;

  constructor(options: TrainerOptions) {
    const cfg = options.config;
    this.config = cfg;
    this.#root = Rng.fromSeed(options.seed);
    this.schedule = cosineSchedule(cfg.diffusion.landscapes);
    this.params = initParams(cfg.model, this.#root.stream('model'));
    this.adam = new Adam(this.params, {
      learningRate: cfg.train.learningRate,
      beta1: cfg.train.beta1,
      beta2: cfg.train.beta2,
      clipGlobalNorm: cfg.train.clipNorm,
    });
    this.ema = new Ema(this.params, cfg.train.ema.decay);
    const dataRng = this.#root.stream('data');
    this.data =
      options.puzzles === undefined
        ? PuzzleStream.generated(dataRng, cfg.data.train)
        : PuzzleStream.fromList(dataRng, options.puzzles);
    this.#components = {
      model: new NestedComponent(this.params),
      optimizer: new NestedComponent(this.adam),
      ema: new NestedComponent(this.ema),
      data: this.data,
      counters: this.counters,
    };
  }

  /** Gradient worker threads of the last step (0: the micro-batches ran on this thread). */
  get gradientWorkers(): number {
    return this.#lastPool?.size ?? 0;
  }

  /** Steps taken so far. */
  get step(): number {
    return this.counters.value.step;
  }

  /**
   * Everything a checkpoint must hold to resume exactly: `model` (weights), `optimizer` (Adam
   * moments and step), `ema` (EMA weights), `data` (puzzle cursor), `counters` (step). Random
   * draws derive from the seed and the step, so no generator position needs saving.
   */
  components(): ComponentMap {
    return this.#components;
  }

  /** The whole training state as one component. */
  asComponent(): ComponentGroup {
    return new ComponentGroup(this.#components);
  }

  /** SHA-256 of the whole training state (see `stateDigest`). */
  async digest(): Promise<string> {
    return stateDigest(await captureState(this.components()));
  }

  /**
   * One optimiser step on the next batch. Throws `NUMERICAL` on a non-finite loss or gradient.
   * Reads its metrics asynchronously (the `webgpu` backend has no synchronous reads in Node).
   */
  async trainStep(): Promise<StepMetrics> {
    const cfg = this.config;
    const step = this.step;
    const puzzles = this.data.next(cfg.train.batchSize);
    const batch = makeLossBatch(
      puzzles,
      cfg.diffusion.landscapes,
      cfg.diffusion.negativeCorruption,
      this.#root.stream('train', step),
    );
    const names = this.params.trainableNames();
    const vars = names.map((n) => this.params.get(n));
    const B = batch.size;
    const micro = Math.min(cfg.train.microBatch ?? B, B);
    const parts: LossBatch[] = [];
    for (let start = 0; start < B; start += micro)
      parts.push(micro === B ? batch : sliceLossBatch(batch, start, Math.min(B, start + micro)));
    const pool = this.#poolFor(parts.length);
    this.#lastPool = pool;
    const hostResults =
      pool === undefined ? undefined : await this.#parallel(pool, vars, names, parts);
    let grads: tf.Tensor[] | undefined;
    let loss = 0;
    let mse = 0;
    let contrastive = 0;
    for (const [k, part] of parts.entries()) {
      const host = hostResults?.[k];
      const r =
        host === undefined
          ? await lossAndGrads(cfg.model, cfg.diffusion, this.schedule, names, vars, part)
          : { ...host, grads: host.grads.map((g, i) => tf.tensor(g, vars[i]?.shape)) };
      // Every term is a mean over the batch: a micro-batch counts by its share of the boards.
      const w = part.size / B;
      loss += w * r.loss;
      mse += w * r.mse;
      contrastive += w * r.contrastive;
      if (micro === B) grads = r.grads;
      else {
        const scaled = r.grads.map((g) => tf.mul(g, w));
        r.grads.forEach((g) => g.dispose());
        const prev = grads;
        grads = prev === undefined ? scaled : prev.map((g, i) => tf.add(g, scaled[i] as tf.Tensor));
        prev?.forEach((g) => g.dispose());
        if (prev !== undefined) scaled.forEach((g) => g.dispose());
      }
    }
    grads ??= [];
    if (!Number.isFinite(loss)) {
      grads.forEach((g) => g.dispose());
      throw new XError(
        'NUMERICAL',
        `training loss is ${loss} at step ${step + 1}; no update applied`,
      );
    }
    const record: Record<string, tf.Tensor> = Object.fromEntries(
      names.map((n, i) => [n, grads[i] as tf.Tensor]),
    );
    let gradNorm: number;
    try {
      gradNorm = await this.adam.apply(record);
    } finally {
      grads.forEach((g) => g.dispose());
    }
    const next = step + 1;
    const { every, startAfter } = cfg.train.ema;
    if (next % every === 0) {
      if (next <= startAfter) this.ema.setState(await this.params.getState());
      else this.ema.update();
    }
    this.counters.value = { step: next };
    return { step: next, loss, mse, contrastive, gradNorm };
  }

  /**
   * The gradient workers for a step of `parts` micro-batches: on the wasm backend with more than
   * one thread, one single-threaded worker per thread (at most one per micro-batch); otherwise
   * none, and the micro-batches run here one after another. Either way every micro-batch is
   * computed by the same single-threaded kernels and summed in order, so results do not depend
   * on the thread count.
   */
  #poolFor(parts: number): GradPool | undefined {
    const info = currentBackend();
    const size = Math.min(parts, info?.name === 'wasm' ? (info.threads ?? 1) : 1);
    if (size < 2 || info === undefined) return undefined;
    if (this.#pool?.size !== size) {
      void this.#pool?.dispose();
      this.#pool = new GradPool(size, info.name, this.config.model, this.config.diffusion);
    }
    return this.#pool;
  }

  async #parallel(
    pool: GradPool,
    vars: tf.Variable[],
    names: string[],
    parts: LossBatch[],
  ): Promise<HostLossAndGrads[]> {
    const values: Float32Array[] = [];
    for (const v of vars) values.push((await v.data()) as Float32Array);
    return await pool.run(
      names,
      vars.map((v) => v.shape),
      values,
      parts,
    );
  }

  /** Runs `fn` with the EMA weights swapped in (evaluation uses EMA weights), then restores. */
  async withEmaWeights<T>(fn: (p: Params) => T | Promise<T>): Promise<T> {
    this.ema.swapIn();
    try {
      return await fn(this.params.record());
    } finally {
      this.ema.swapOut();
    }
  }

  /** Frees every tensor and stops the gradient workers. */
  dispose(): void {
    void this.#pool?.dispose();
    this.#pool = undefined;
    this.adam.dispose();
    this.ema.dispose();
    this.params.dispose();
  }
}
