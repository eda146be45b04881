import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@x/core';
import { exp, gelu, sigmoid, softplus, swish, tanh } from './activations.js';
import { currentBackend, withBackend, type BackendName } from './backend.js';
import {
  checkGradients,
  checkSecondOrder,
  type EnergyFn,
  type GradCheckResult,
} from './gradCheck.js';
import { conv2d, dense, groupNorm } from './layers.js';

/** One row of {@link selfCheck}: an op checked at one derivative order. */
export interface SelfCheckRow {
  op: string;
  order: 1 | 2;
  ok: boolean;
  maxRelError: number;
  maxAbsError: number;
  ms: number;
  /** Set when the check threw instead of returning. */
  error?: string;
}

/** Result of {@link selfCheck} on one backend. */
export interface SelfCheckReport {
  backend: BackendName;
  ok: boolean;
  rows: SelfCheckRow[];
}

type P = Record<string, tf.Tensor>;

function randn(rng: Rng, shape: number[], std: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(rng.fillNormal(new Float32Array(n), 0, std), shape, 'float32');
}

interface Case {
  op: string;
  params: (rng: Rng) => P;
  x: (rng: Rng) => tf.Tensor;
  energy: EnergyFn;
}

const ACTIVATIONS: [string, (t: tf.Tensor) => tf.Tensor][] = [
  ['sigmoid', sigmoid],
  ['swish', swish],
  ['tanh', tanh],
  ['gelu', gelu],
  ['softplus', softplus],
  ['exp', exp],
];

const CASES: Case[] = [
  {
    op: 'conv2d',
    params: (r) => ({ k: randn(r.stream('k'), [3, 3, 2, 3], 0.3) }),
    x: (r) => randn(r.stream('x'), [2, 4, 4, 2], 0.5),
    energy: (x, p) => tf.mean(tf.square(conv2d(x as tf.Tensor4D, p['k'] as tf.Tensor4D))),
  },
  {
    op: 'conv2d(circular)',
    params: (r) => ({ k: randn(r.stream('k'), [3, 3, 2, 2], 0.3) }),
    x: (r) => randn(r.stream('x'), [1, 4, 4, 2], 0.5),
    energy: (x, p) =>
      tf.mean(tf.square(conv2d(x as tf.Tensor4D, p['k'] as tf.Tensor4D, { padding: 'circular' }))),
  },
  ...ACTIVATIONS.map(([op, act]): Case => ({
    op,
    params: (r) => ({ a: randn(r.stream('a'), [6], 0.8), b: randn(r.stream('b'), [6], 0.3) }),
    x: (r) => randn(r.stream('x'), [6], 1),
    energy: (x, p) => tf.sum(act(tf.add(tf.mul(x, p['a'] as tf.Tensor), p['b'] as tf.Tensor))),
  })),
  {
    op: 'dense',
    params: (r) => ({ w: randn(r.stream('w'), [4, 3], 0.5), b: randn(r.stream('b'), [3], 0.2) }),
    x: (r) => randn(r.stream('x'), [2, 4], 1),
    energy: (x, p) =>
      tf.sum(tf.square(dense(x as tf.Tensor2D, p['w'] as tf.Tensor2D, p['b'] as tf.Tensor1D))),
  },
  {
    op: 'groupNorm',
    params: (r) => ({ g: randn(r.stream('g'), [4], 0.5), be: randn(r.stream('be'), [4], 0.5) }),
    x: (r) => randn(r.stream('x'), [1, 3, 3, 4], 1),
    energy: (x, p) =>
      tf.mean(swish(groupNorm(x as tf.Tensor4D, 2, p['g'] as tf.Tensor1D, p['be'] as tf.Tensor1D))),
  },
  {
    op: 'conv+groupNorm+swish',
    params: (r) => ({
      k1: randn(r.stream('k1'), [3, 3, 2, 4], 0.3),
      k2: randn(r.stream('k2'), [3, 3, 4, 1], 0.3),
    }),
    x: (r) => randn(r.stream('x'), [2, 4, 4, 2], 0.5),
    energy: (x, p) => {
      const h = swish(groupNorm(conv2d(x as tf.Tensor4D, p['k1'] as tf.Tensor4D), 2));
      return tf.mean(tf.square(conv2d(h as tf.Tensor4D, p['k2'] as tf.Tensor4D)));
    },
  },
];

async function row(
  op: string,
  order: 1 | 2,
  run: () => Promise<GradCheckResult>,
): Promise<SelfCheckRow> {
  const t0 = performance.now();
  try {
    const r = await run();
    return {
      op,
      order,
      ok: r.ok,
      maxRelError: r.maxRelError,
      maxAbsError: r.maxAbsError,
      ms: performance.now() - t0,
    };
  } catch (err) {
    return {
      op,
      order,
      ok: false,
      maxRelError: NaN,
      maxAbsError: NaN,
      ms: performance.now() - t0,
      error: err instanceof Error ? err.message : String(err),
    };
  }
}

async function runCases(): Promise<SelfCheckRow[]> {
  const rows: SelfCheckRow[] = [];
  const root = Rng.fromSeed('selfCheck');
  for (const c of CASES) {
    const rng = root.stream(c.op);
    const params = c.params(rng);
    const x = c.x(rng);
    try {
      rows.push(
        await row(c.op, 1, () =>
          checkGradients((p) => c.energy(p['x'] as tf.Tensor, p), { ...params, x }),
        ),
      );
      rows.push(await row(c.op, 2, () => checkSecondOrder(c.energy, x, params)));
    } finally {
      tf.dispose([...Object.values(params), x]);
    }
  }
  return rows;
}

/**
 * Gradient self-check of the training ops (conv2d, the activations, dense, groupNorm and a small
 * conv block): first-order gradients and IRED-style second-order gradients (d/dθ of ‖∇ₓE‖²)
 * against finite differences. Runs on `backend` (then restores the previous backend), or on the
 * current one. Takes well under a second per backend.
 *
 * @example
 * const report = await selfCheck('wasm');
 * for (const r of report.rows) print(`${r.op} order ${r.order}: ${r.ok ? 'ok' : 'FAIL'}`);
 */
export async function selfCheck(backend?: BackendName): Promise<SelfCheckReport> {
  const run = async (): Promise<SelfCheckReport> => {
    const name = currentBackend()?.name ?? (tf.getBackend() as BackendName);
    const rows = await runCases();
    return { backend: name, ok: rows.every((r) => r.ok), rows };
  };
  if (backend === undefined) return run();
  return withBackend(backend, run);
}
