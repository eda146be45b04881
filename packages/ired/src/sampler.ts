import * as tf from '@tensorflow/tfjs-core';
import { type Rng, XError } from '@x/core';
import type { ModelConfig } from './config.js';
import { BOARD_SIZE, fillNormalAt, decodeBoard, encodeGrid, givensMask } from './encoding.js';
import { energy, energyAndGrad, energyGrad, type Params } from './model.js';
import type { Schedule } from './schedule.js';
import { type Grid, isConsistent } from './sudoku.js';

/** What a sampler hook sees at one step. Arrays are host copies the hook may keep. */
export interface StepEvent {
  /** `denoise`: after the landscape's denoising step; `attempted`: the proposed gradient step before rejection; `final`: the state kept after per-sample rejection. */
  kind: 'denoise' | 'attempted' | 'final';
  /** Restart index (0-based). */
  restart: number;
  /** Landscape index t (T−1 down to 0). */
  landscape: number;
  /** Position of the landscape in the reverse loop (0 for t = T−1). */
  landscapeOrder: number;
  /** Gradient step within the landscape (−1 for `denoise`). */
  step: number;
  /** The optimisation variable y, `[B, 729]`, in ±√ᾱ_t (divide by `scale` to unscale). */
  state: Float32Array;
  /** √ᾱ_t of this landscape. */
  scale: number;
  /** Energy of each board at `state`. */
  energy: Float32Array;
  /** 1 where the step was (or, for `attempted`, will be) rejected because the energy rose. */
  rejected: Uint8Array;
  /** 1 where the decoded state is a valid solution of the quiz. */
  valid: Uint8Array;
}

/** Callbacks of the sampler. */
export interface SamplerHooks {
  /** Called at every denoising, attempted and final step; only when given, so sampling without hooks reads nothing back. */
  onStep?(event: StepEvent): void;
}

/** Options of {@link sampleBoards}. */
export interface SampleOptions {
  model: ModelConfig;
  schedule: Schedule;
  /** Gradient steps per landscape (paper: 20). */
  optSteps: number;
  /** Independent starts; the lowest final energy per board wins (default 1). */
  restarts?: number;
  /**
   * Scale of the reverse-process noise (default 0: deterministic after the initial draw). After
   * the denoising step of landscape t > 0, each board gets `noise·σ_t·ε` with σ_t the DDPM
   * posterior standard deviation {@link reverseNoiseStd}; 1 is the reference code's `with_noise`
   * (the `cl-1-koi` fork's `--reverse-noise`). No noise at t = 0.
   */
  noise?: number;
  /**
   * Root of the random streams: board `ids[b]`, restart r starts from `rng.stream('init', ids[b], r)`
   * and draws its landscape-t noise from `rng.stream('noise', ids[b], r, t)`.
   */
  rng: Rng;
  /** Stable ids of the boards (default 0..B−1), so a board's noise does not depend on batching. */
  ids?: readonly number[];
  hooks?: SamplerHooks;
}

/** Result of sampling one batch. */
export interface SampleResult {
  predictions: Grid[];
  /** Final energy (t = 0) of each chosen answer. */
  energies: Float32Array;
  /** Which restart each answer came from. */
  chosenRestart: number[];
  /** Final energy of every restart, `[restarts][B]`. */
  restartEnergies: Float32Array[];
  /** Decoded answer of every restart, `[restarts][B]` (for choosing among the first k restarts). */
  restartPredictions: Grid[][];
  /** Accepted gradient steps over all landscapes and restarts, per board. */
  acceptedSteps: Int32Array;
}

/**
 * The standard deviation of the reverse-process noise at landscape t: the DDPM posterior
 * √(β_t(1−ᾱ_{t−1})/(1−ᾱ_t)) (ᾱ_{−1} = 1, so 0 at t = 0), as in the reference `p_sample`.
 */
export function reverseNoiseStd(schedule: Schedule, t: number): number {
  if (t <= 0) return 0;
  const ac = schedule.alphasCumprod;
  const beta = schedule.betas[t] as number;
  return Math.sqrt((beta * (1 - (ac[t - 1] as number))) / (1 - (ac[t] as number)));
}

/**
 * Per board, the index of the lowest final energy among the first `k` restarts (default all);
 * ties go to the earlier restart. `energies` is `[restarts][B]` as in
 * {@link SampleResult.restartEnergies}.
 */
export function lowestEnergyRestart(
  energies: readonly Float32Array[],
  k = energies.length,
): number[] {
  if (!Number.isInteger(k) || k < 1 || k > energies.length)
    throw new XError(
      'INVALID_INPUT',
      `lowestEnergyRestart: k must be an integer in 1..${energies.length}, got ${k}`,
    );
  const B = (energies[0] as Float32Array).length;
  const out = new Array<number>(B).fill(0);
  for (let b = 0; b < B; b++) {
    const before = byEnergy(energies, b);
    for (let r = 1; r < k; r++) if (before(r, out[b] as number) < 0) out[b] = r;
  }
  return out;
}

/**
 * Compares two restarts of board `b` by final energy: the lower first, NaN after any number, ties
 * to the earlier restart (the order {@link lowestEnergyRestart} and {@link voteAnswers} prefer).
 */
function byEnergy(energies: readonly Float32Array[], b: number): (x: number, y: number) => number {
  const e = (r: number) => (energies[r] as Float32Array)[b] as number;
  return (x, y) => {
    const [ex, ey] = [e(x), e(y)];
    if (Number.isNaN(ex) || Number.isNaN(ey))
      return Number(Number.isNaN(ex)) - Number(Number.isNaN(ey)) || x - y;
    return ex - ey || x - y;
  };
}

/**
 * Per board, each cell's digit by plurality over the decoded answers of the first `k` restarts
 * (default all): self-consistency voting, an alternative to {@link lowestEnergyRestart} that does
 * not trust the energy to rank answers. A tie goes to the tied digit of the lowest-energy restart
 * among those that voted for one. `predictions` and `energies` are `[restarts][B]` as in
 * {@link SampleResult.restartPredictions} and {@link SampleResult.restartEnergies}. The result
 * need not be any restart's answer.
 */
export function voteAnswers(
  predictions: readonly (readonly Grid[])[],
  energies: readonly Float32Array[],
  k = predictions.length,
): Grid[] {
  if (!Number.isInteger(k) || k < 1 || k > predictions.length || energies.length < k)
    throw new XError(
      'INVALID_INPUT',
      `voteAnswers: k must be an integer in 1..${Math.min(predictions.length, energies.length)}, got ${k}`,
    );
  const B = (predictions[0] as readonly Grid[]).length;
  const out: Grid[] = [];
  const counts = new Int32Array(10);
  for (let b = 0; b < B; b++) {
    const order = Array.from({ length: k }, (_, r) => r).sort(byEnergy(energies, b));
    const answers = order.map((r) => (predictions[r] as readonly Grid[])[b] as Grid);
    const g = new Uint8Array(81);
    for (let i = 0; i < 81; i++) {
      counts.fill(0);
      let top = 0;
      for (const a of answers) {
        const d = a[i] as number;
        const c = (counts[d] as number) + 1;
        counts[d] = c;
        if (c > top) top = c;
      }
      // The first answer in energy order whose digit has the top count.
      g[i] = answers.find((a) => counts[a[i] as number] === top)?.[i] as number;
    }
    out.push(g);
  }
  return out;
}

function validFlags(quizzes: readonly Grid[], state: Float32Array): Uint8Array {
  return Uint8Array.from(quizzes, (q, b) => {
    const g = decodeBoard(state, b * BOARD_SIZE);
    for (let i = 0; i < 81; i++) if (q[i] !== 0 && q[i] !== g[i]) return 0;
    return isConsistent(g) ? 1 : 0;
  });
}

/** One row of a sampling batch: a board under one restart. */
interface Row {
  quiz: Grid;
  id: number;
  restart: number;
}

/** Runs the reverse process for every row at once (rows are independent; each has its own streams). */
async function runRows(
  opts: SampleOptions,
  rows: readonly Row[],
  p: Params,
  accepted: Int32Array,
): Promise<{ y: Float32Array; energy: Float32Array }> {
  const { model, schedule, hooks } = opts;
  const B = rows.length;
  const T = schedule.landscapes;
  const quizzes = rows.map((r) => r.quiz);
  const restart = rows[0]?.restart ?? 0;
  const noise = opts.noise ?? 0;
  const init = new Float32Array(B * BOARD_SIZE);
  const inpHost = new Float32Array(B * BOARD_SIZE);
  const maskHost = new Float32Array(B * BOARD_SIZE);
  rows.forEach((row, b) => {
    fillNormalAt(opts.rng.stream('init', row.id, row.restart), init, b * BOARD_SIZE);
    encodeGrid(row.quiz, inpHost, b * BOARD_SIZE);
    givensMask(row.quiz, maskHost, b * BOARD_SIZE);
  });
  const inp = tf.tensor2d(inpHost, [B, BOARD_SIZE]);
  const mask = tf.tensor2d(maskHost, [B, BOARD_SIZE]);
  const keep = tf.sub(1, mask);
  let y: tf.Tensor2D = tf.tensor2d(init, [B, BOARD_SIZE]);
  const emit = async (
    kind: StepEvent['kind'],
    t: number,
    step: number,
    state: tf.Tensor,
    e: tf.Tensor,
    rejected: Uint8Array,
  ) => {
    if (hooks?.onStep === undefined) return;
    const s = (await state.data()) as Float32Array;
    const energies = Float32Array.from((await e.data()) as Float32Array);
    hooks.onStep({
      kind,
      restart,
      landscape: t,
      landscapeOrder: T - 1 - t,
      step,
      state: Float32Array.from(s),
      scale: schedule.sqrtAlphasCumprod[t] as number,
      energy: energies,
      rejected,
      valid: validFlags(quizzes, s),
    });
  };
  const tArr = (t: number) => new Array<number>(B).fill(t);
  for (let t = T - 1; t >= 0; t--) {
    const sa = schedule.sqrtAlphasCumprod[t] as number;
    const s1m = schedule.sqrtOneMinusAlphasCumprod[t] as number;
    const stepSize = schedule.optStepSize[t] as number;
    const ts = tArr(t);
    const cond = tf.tidy(() => tf.mul(mask, tf.mul(inp, sa)));
    const clamp = (x: tf.Tensor) => tf.add<tf.Tensor2D>(tf.mul(x, keep), cond);
    const sigma = noise * reverseNoiseStd(schedule, t);
    let eps: tf.Tensor2D | undefined;
    if (sigma > 0) {
      const host = new Float32Array(B * BOARD_SIZE);
      rows.forEach((row, b) =>
        fillNormalAt(opts.rng.stream('noise', row.id, row.restart, t), host, b * BOARD_SIZE),
      );
      eps = tf.tensor2d(host, [B, BOARD_SIZE]);
    }
    const next = tf.tidy(() => {
      const y0 = clamp(y);
      const g = energyGrad(model, p, inp, y0, ts);
      const x0 = tf.clipByValue(tf.div(tf.sub(y0, tf.mul(g, s1m)), sa), -1, 1);
      const mean = tf.mul(x0, sa);
      return clamp(eps === undefined ? mean : tf.add(mean, tf.mul(eps, sigma)));
    });
    eps?.dispose();
    y.dispose();
    y = next;
    if (hooks?.onStep !== undefined) {
      const e = tf.tidy(() => energy(model, p, inp, y, ts));
      await emit('denoise', t, -1, y, e, new Uint8Array(B));
      e.dispose();
    }
    for (let i = 0; i < opts.optSteps; i++) {
      const { energy: e0, grad } = energyAndGrad(model, p, inp, y, ts);
      const y1 = tf.tidy(() =>
        tf.clipByValue<tf.Tensor2D>(clamp(tf.sub(y, tf.mul(grad, stepSize))), -sa, sa),
      );
      const e1 = tf.tidy(() => energy(model, p, inp, y1, ts));
      const bad = tf.greater(e1, e0);
      const badHost = Uint8Array.from((await bad.data()) as Uint8Array);
      await emit('attempted', t, i, y1, e1, badHost);
      const yNew = tf.tidy(() => tf.where<tf.Tensor2D>(tf.reshape(bad, [B, 1]), y, y1));
      if (hooks?.onStep !== undefined) {
        const eNew = tf.where(bad, e0, e1);
        await emit('final', t, i, yNew, eNew, badHost);
        eNew.dispose();
      }
      badHost.forEach((v, b) => {
        if (v === 0) accepted[b] = (accepted[b] as number) + 1;
      });
      for (const x of [e0, grad, y1, e1, bad, y]) x.dispose();
      y = yNew;
    }
    const clipped = tf.tidy(() => {
      const c = tf.clipByValue(y, -sa, sa);
      if (t === 0) return c;
      return tf.mul<tf.Tensor2D>(tf.div(c, sa), schedule.sqrtAlphasCumprod[t - 1] as number);
    });
    y.dispose();
    cond.dispose();
    y = clipped;
  }
  const eFinal = tf.tidy(() => energy(model, p, inp, y, tArr(0)));
  const out = {
    y: Float32Array.from((await y.data()) as Float32Array),
    energy: Float32Array.from((await eFinal.data()) as Float32Array),
  };
  for (const x of [eFinal, y, inp, mask, keep]) x.dispose();
  return out;
}

/**
 * Solves a batch of puzzles by the IRED reverse process: for t = T−1..0, clamp the givens,
 * denoise (x̂₀ = (y − √(1−ᾱ_t)∇E)/√ᾱ_t clipped to ±1, y = √ᾱ_t x̂₀), then `optSteps` gradient
 * steps y′ = y − η_t∇E with the givens clamped and y′ clipped to ±√ᾱ_t, each rejected per board
 * when E(y′) > E(y); then rescale to the next landscape. With `noise` > 0, the denoising step of
 * each landscape t > 0 adds seeded Gaussian noise (see {@link SampleOptions.noise}), so restarts
 * explore different answers. With restarts, the answer of lowest final energy is kept per board.
 * Deterministic given `rng` and the board ids, whatever the batch composition.
 */
export async function sampleBoards(
  p: Params,
  quizzes: readonly Grid[],
  opts: SampleOptions,
): Promise<SampleResult> {
  const restarts = opts.restarts ?? 1;
  if (!Number.isInteger(restarts) || restarts < 1)
    throw new XError('INVALID_CONFIG', `restarts: expected a positive integer, got ${restarts}`);
  if (opts.ids !== undefined && opts.ids.length !== quizzes.length)
    throw new XError(
      'INVALID_INPUT',
      `sampleBoards: ${opts.ids.length} ids for ${quizzes.length} boards`,
    );
  const noise = opts.noise ?? 0;
  if (!Number.isFinite(noise) || noise < 0)
    throw new XError('INVALID_CONFIG', `noise: expected a finite number >= 0, got ${noise}`);
  const B = quizzes.length;
  const ids = opts.ids ?? quizzes.map((_, i) => i);
  const accepted = new Int32Array(B);
  const restartEnergies: Float32Array[] = [];
  const restartPredictions: Grid[][] = [];
  // With hooks, one restart per pass (events carry their restart); without, every board × restart
  // in one batch. A row's result depends only on its board, id and restart, not on the batch.
  const passes =
    opts.hooks?.onStep === undefined
      ? [Array.from({ length: restarts }, (_, r) => r)]
      : Array.from({ length: restarts }, (_, r) => [r]);
  for (const pass of passes) {
    const rows = pass.flatMap((r) =>
      quizzes.map((quiz, b) => ({ quiz, id: ids[b] as number, restart: r })),
    );
    const rowAccepted = new Int32Array(rows.length);
    const { y, energy: e } = await runRows(opts, rows, p, rowAccepted);
    pass.forEach((r, k) => {
      restartEnergies[r] = e.slice(k * B, (k + 1) * B);
      restartPredictions[r] = quizzes.map((_, b) => decodeBoard(y, (k * B + b) * BOARD_SIZE));
      for (let b = 0; b < B; b++)
        accepted[b] = (accepted[b] as number) + (rowAccepted[k * B + b] as number);
    });
  }
  const chosenRestart = lowestEnergyRestart(restartEnergies);
  const predictions = chosenRestart.map((r, b) => (restartPredictions[r] as Grid[])[b] as Grid);
  const best = Float32Array.from(
    chosenRestart,
    (r, b) => (restartEnergies[r] as Float32Array)[b] as number,
  );
  return {
    predictions,
    energies: best,
    chosenRestart,
    restartEnergies,
    restartPredictions,
    acceptedSteps: accepted,
  };
}
