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
  /** Root of the initial-noise streams: board `ids[b]`, restart r draws from `rng.stream('init', ids[b], r)`. */
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
  /** Accepted gradient steps over all landscapes and restarts, per board. */
  acceptedSteps: Int32Array;
}

function validFlags(quizzes: readonly Grid[], state: Float32Array): Uint8Array {
  return Uint8Array.from(quizzes, (q, b) => {
    const g = decodeBoard(state, b * BOARD_SIZE);
    for (let i = 0; i < 81; i++) if (q[i] !== 0 && q[i] !== g[i]) return 0;
    return isConsistent(g) ? 1 : 0;
  });
}

async function runOnce(
  opts: SampleOptions,
  quizzes: readonly Grid[],
  restart: number,
  p: Params,
  accepted: Int32Array,
): Promise<{ y: Float32Array; energy: Float32Array }> {
  const { model, schedule, hooks } = opts;
  const B = quizzes.length;
  const T = schedule.landscapes;
  const ids = opts.ids ?? quizzes.map((_, i) => i);
  const init = new Float32Array(B * BOARD_SIZE);
  const inpHost = new Float32Array(B * BOARD_SIZE);
  const maskHost = new Float32Array(B * BOARD_SIZE);
  quizzes.forEach((q, b) => {
    fillNormalAt(opts.rng.stream('init', ids[b] as number, restart), init, b * BOARD_SIZE);
    encodeGrid(q, inpHost, b * BOARD_SIZE);
    givensMask(q, maskHost, b * BOARD_SIZE);
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
    const next = tf.tidy(() => {
      const y0 = clamp(y);
      const g = energyGrad(model, p, inp, y0, ts);
      const x0 = tf.clipByValue(tf.div(tf.sub(y0, tf.mul(g, s1m)), sa), -1, 1);
      return clamp(tf.mul(x0, sa));
    });
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
 * when E(y′) > E(y); then rescale to the next landscape. With restarts, the answer of lowest
 * final energy is kept per board. Deterministic given `rng` and the board ids.
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
  const B = quizzes.length;
  const accepted = new Int32Array(B);
  const restartEnergies: Float32Array[] = [];
  const best = new Float32Array(B).fill(Infinity);
  const chosenRestart = new Array<number>(B).fill(0);
  const predictions: Grid[] = quizzes.map(() => new Uint8Array(81));
  for (let r = 0; r < restarts; r++) {
    const { y, energy: e } = await runOnce(opts, quizzes, r, p, accepted);
    restartEnergies.push(e);
    for (let b = 0; b < B; b++) {
      const eb = e[b] as number;
      if (r === 0 || eb < (best[b] as number)) {
        best[b] = eb;
        chosenRestart[b] = r;
        predictions[b] = decodeBoard(y, b * BOARD_SIZE);
      }
    }
  }
  return { predictions, energies: best, chosenRestart, restartEnergies, acceptedSteps: accepted };
}
