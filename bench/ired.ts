import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../packages/core/src/index.js';
import {
  cosineSchedule,
  cpuPreset,
  encodeBatch,
  energy,
  energyAndGrad,
  energyGrad,
  generatePuzzles,
  initParams,
  IredTrainer,
  lossParts,
  makeLossBatch,
  paperPreset,
  parameterCount,
  sampleBoards,
  SATNET_GIVENS,
  type IredConfig,
  type ModelConfig,
} from '../packages/ired/src/index.js';
import { initBackend, tf } from '../packages/tensor/src/index.js';

const here = dirname(fileURLToPath(import.meta.url));

interface Case {
  name: string;
  model: ModelConfig;
  trainBatch: number;
  sampleBatch: number;
  /** Time loss + gradients only (no Adam/EMA state: the paper model's optimizer state does not fit the wasm heap). */
  gradsOnly: boolean;
}

const CASES: Case[] = [
  {
    name: 'cpu',
    model: cpuPreset.model,
    trainBatch: cpuPreset.train.batchSize,
    sampleBatch: 8,
    gradsOnly: false,
  },
  {
    name: 'paper-3blocks',
    model: { ...paperPreset.model, blocks: 3 },
    trainBatch: 1,
    sampleBatch: 1,
    gradsOnly: true,
  },
  { name: 'paper', model: paperPreset.model, trainBatch: 1, sampleBatch: 1, gradsOnly: true },
];

function gradsStep(c: Case, seed: number): void {
  const params = initParams(c.model, Rng.fromSeed(0));
  const names = params.names();
  const schedule = cosineSchedule(10);
  const batch = makeLossBatch(
    generatePuzzles(Rng.fromSeed(seed), c.trainBatch, SATNET_GIVENS),
    10,
    0.05,
    Rng.fromSeed(seed).stream('noise'),
  );
  try {
    const { value, grads } = tf.valueAndGrads((...xs: tf.Tensor[]) => {
      const r = lossParts(
        c.model,
        paperPreset.diffusion,
        schedule,
        Object.fromEntries(names.map((n, j) => [n, xs[j] as tf.Tensor])),
        batch,
      );
      r.mse.dispose();
      r.contrastive.dispose();
      return r.total;
    })(names.map((n) => params.get(n)));
    value.dataSync();
    value.dispose();
    grads.forEach((g) => g.dispose());
  } finally {
    params.dispose();
  }
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

function time(f: () => void): number {
  const t0 = performance.now();
  f();
  return (performance.now() - t0) / 1000;
}

function peer(
  c: Case,
  reps: number,
):
  | {
      trainStepSeconds: number;
      sampleSeconds: Record<string, number>;
      threads: number;
      torch: string;
    }
  | string {
  const spec = {
    model: c.model,
    trainBatch: c.trainBatch,
    trainReps: reps,
    sampleBatch: c.sampleBatch,
    sampleOptSteps: [0, 1],
  };
  const r = spawnSync('/usr/bin/python3', [join(here, 'ired_peer.py'), JSON.stringify(spec)], {
    encoding: 'utf8',
    timeout: 3_600_000,
  });
  if (r.status !== 0)
    return `PyTorch peer failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop() ?? ''}`;
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as {
    trainStepSeconds: number;
    sampleSeconds: Record<string, number>;
    threads: number;
    torch: string;
  };
}

/** Seconds of one full sampling run from the cost of one denoise and one optimisation step. */
function stepwiseSampling(c: Case, quizzes: Uint8Array[]): number {
  const params = initParams(c.model, Rng.fromSeed(0));
  const p = params.record();
  const B = quizzes.length;
  const inp = tf.tensor2d(encodeBatch(quizzes), [B, 729]);
  const y = tf.tensor2d(Rng.fromSeed(3).fillNormal(new Float32Array(B * 729), 0, 0.1), [B, 729]);
  const ts = new Array<number>(B).fill(3);
  const denoise = () => tf.tidy(() => void energyGrad(c.model, p, inp, y, ts).dataSync());
  const step = () => {
    const r = energyAndGrad(c.model, p, inp, y, ts);
    tf.tidy(() => void energy(c.model, p, inp, tf.sub(y, tf.mul(r.grad, 0.1)), ts).dataSync());
    r.energy.dispose();
    r.grad.dispose();
  };
  try {
    denoise();
    const td = time(denoise);
    step();
    const tStep = time(step);
    return 10 * (td + 20 * tStep);
  } finally {
    params.dispose();
    inp.dispose();
    y.dispose();
  }
}

/** Sampling seconds of a batch with the paper's 20 steps per landscape, from runs with 0 and 1 step. */
function extrapolate(t0: number, t1: number, optSteps = 20): number {
  return t0 + optSteps * (t1 - t0);
}

/**
 * `pnpm bench ired [--only cpu|paper] [--reps n]`: training-step time and sampling throughput of
 * the CPU default and the paper preset on the default backend, against the same model, batch
 * and step in PyTorch (bench/ired_peer.py, Debian's python3-torch) in the same run.
 */
export async function main(args: string[]): Promise<void> {
  const info = await initBackend('auto');
  const only = flag(args, 'only');
  const reps = Number(flag(args, 'reps') ?? 2);
  const w = (s: string) => process.stdout.write(`${s}\n`);
  w(
    `ired bench: backend ${info.name} (${info.packageName} ${info.packageVersion}), node ${process.version}, load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
  w(
    'sampling: boards/s for 10 landscapes x 20 steps; cpu preset and PyTorch extrapolated from full runs with 0 and 1 step per landscape, paper widths in tfjs from one denoise and one optimisation step: 10 x (denoise + 20 steps)',
  );
  for (const c of CASES.filter((x) => only === undefined || x.name === only)) {
    const config: IredConfig = structuredClone(c.name === 'cpu' ? cpuPreset : paperPreset);
    config.model = c.model;
    config.train.batchSize = c.trainBatch;
    const quizzes = generatePuzzles(Rng.fromSeed(1), c.sampleBatch, SATNET_GIVENS).map(
      (p) => p.quiz,
    );
    const schedule = cosineSchedule(10);
    let train: number;
    let tfSample: number;
    try {
      if (c.gradsOnly) {
        gradsStep(c, 0);
        train = time(() => gradsStep(c, 1));
        tfSample = stepwiseSampling(c, quizzes);
      } else {
        const trainer = new IredTrainer({ config, seed: 0 });
        trainer.trainStep();
        let t = 0;
        for (let i = 0; i < reps; i++) t += time(() => trainer.trainStep());
        train = t / reps;
        const run = (optSteps: number) =>
          time(() =>
            sampleBoards(trainer.params.record(), quizzes, {
              model: c.model,
              schedule,
              optSteps,
              rng: Rng.fromSeed(2),
            }),
          );
        run(0);
        tfSample = extrapolate(run(0), run(1));
        trainer.dispose();
      }
    } catch (err) {
      w(
        `\n[${c.name}] tfjs failed on ${info.name}: ${(err as Error).message.slice(0, 120)} (the wasm heap is limited to 2 GB)`,
      );
      continue;
    }
    const p = peer(c, c.gradsOnly ? 1 : reps);
    const params = (parameterCount(c.model) / 1e6).toFixed(2);
    w(
      `\n[${c.name}] ${c.model.channels} channels, ${c.model.blocks} blocks, ${c.model.kernel}x${c.model.kernel}, ${params}M parameters`,
    );
    w(
      `  ${c.gradsOnly ? 'loss + gradients' : 'train step'} (batch ${c.trainBatch}): tfjs ${train.toFixed(2)} s`,
    );
    w(
      `  sampling (batch ${c.sampleBatch}, 20 steps): tfjs ${(c.sampleBatch / tfSample).toFixed(3)} boards/s (${tfSample.toFixed(1)} s per batch)`,
    );
    if (typeof p === 'string') {
      w(`  ${p}`);
      continue;
    }
    const pt = extrapolate(p.sampleSeconds['0'] ?? NaN, p.sampleSeconds['1'] ?? NaN);
    w(
      `  PyTorch ${p.torch} CPU (${p.threads} threads): train step ${p.trainStepSeconds.toFixed(2)} s, sampling ${(c.sampleBatch / pt).toFixed(3)} boards/s`,
    );
    w(
      `  ratio tfjs/PyTorch: train step time ${(train / p.trainStepSeconds).toFixed(2)}x, sampling time ${(tfSample / pt).toFixed(2)}x`,
    );
  }
  w(
    `\nload average at the end ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
}
