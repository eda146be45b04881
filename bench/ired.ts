import { spawnSync } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
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
  lossAndGrads,
  makeLossBatch,
  paperPreset,
  parameterCount,
  sampleBoards,
  SATNET_GIVENS,
  type IredConfig,
  type ModelConfig,
} from '../packages/ired/src/index.js';
import { initBackend, probeBackends, tf, type BackendName } from '../packages/tensor/src/index.js';

const here = dirname(fileURLToPath(import.meta.url));

interface Case {
  name: string;
  model: ModelConfig;
  trainBatch: number;
  sampleBatch: number;
  /** Time loss + gradients only (no optimizer state), for models too slow for a full step. */
  gradsOnly: boolean;
  /** `train.microBatch` of a full step (the preset's). */
  microBatch?: number;
}

const CASES: Case[] = [
  {
    name: 'cpu',
    model: cpuPreset.model,
    trainBatch: cpuPreset.train.batchSize,
    sampleBatch: 8,
    gradsOnly: false,
    ...(cpuPreset.train.microBatch === undefined ? {} : { microBatch: cpuPreset.train.microBatch }),
  },
  { name: 'paper', model: paperPreset.model, trainBatch: 1, sampleBatch: 1, gradsOnly: true },
];

/** One engine setting a case runs on: a tfjs backend (wasm at a thread count) or webgpu. */
interface Engine {
  label: string;
  backend: BackendName;
  threads?: number;
}

interface PeerResult {
  trainStepSeconds: number;
  sampleSeconds: Record<string, number>;
  threads: number;
  torch: string;
  device: string;
  peakRssMb: number;
  peakGpuMb?: number;
}

async function gradsStep(c: Case, seed: number): Promise<void> {
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
    const r = await lossAndGrads(
      c.model,
      paperPreset.diffusion,
      schedule,
      names,
      names.map((n) => params.get(n)),
      batch,
    );
    for (const g of r.grads) await g.data();
    r.grads.forEach((g) => g.dispose());
  } finally {
    params.dispose();
  }
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? 'true') : undefined;
}

async function time(f: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await f();
  return (performance.now() - t0) / 1000;
}

function peer(c: Case, reps: number, threads: number, device: string): PeerResult | string {
  const spec = {
    model: c.model,
    trainBatch: c.trainBatch,
    trainReps: reps,
    sampleBatch: c.sampleBatch,
    sampleOptSteps: [0, 1],
    gradsOnly: c.gradsOnly,
    threads,
    device,
  };
  const python = process.env['X_BENCH_PYTHON'] ?? '/usr/bin/python3';
  const r = spawnSync(python, [join(here, 'ired_peer.py'), JSON.stringify(spec)], {
    encoding: 'utf8',
    timeout: 3_600_000,
  });
  if (r.status !== 0)
    return `PyTorch peer failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop() ?? ''}`;
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as PeerResult;
}

/** Seconds of one full sampling run from the cost of one denoise and one optimisation step. */
async function stepwiseSampling(c: Case, quizzes: Uint8Array[]): Promise<number> {
  const params = initParams(c.model, Rng.fromSeed(0));
  const p = params.record();
  const B = quizzes.length;
  const inp = tf.tensor2d(encodeBatch(quizzes), [B, 729]);
  const y = tf.tensor2d(Rng.fromSeed(3).fillNormal(new Float32Array(B * 729), 0, 0.1), [B, 729]);
  const ts = new Array<number>(B).fill(3);
  const denoise = async () => {
    const g = energyGrad(c.model, p, inp, y, ts);
    await g.data();
    g.dispose();
  };
  const step = async () => {
    const r = energyAndGrad(c.model, p, inp, y, ts);
    const e = tf.tidy(() => energy(c.model, p, inp, tf.sub(y, tf.mul(r.grad, 0.1)), ts));
    await e.data();
    for (const t of [e, r.energy, r.grad]) t.dispose();
  };
  try {
    await denoise();
    const td = await time(denoise);
    await step();
    const tStep = await time(step);
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

async function ours(c: Case, reps: number): Promise<{ train: number; sample: number }> {
  const quizzes = generatePuzzles(Rng.fromSeed(1), c.sampleBatch, SATNET_GIVENS).map((p) => p.quiz);
  if (c.gradsOnly) {
    await gradsStep(c, 0);
    const train = await time(() => gradsStep(c, 1));
    return { train, sample: await stepwiseSampling(c, quizzes) };
  }
  const config: IredConfig = structuredClone(c.name === 'paper' ? paperPreset : cpuPreset);
  config.model = c.model;
  config.train.batchSize = c.trainBatch;
  if (c.microBatch === undefined) delete config.train.microBatch;
  else config.train.microBatch = c.microBatch;
  const trainer = new IredTrainer({ config, seed: 0 });
  try {
    await trainer.trainStep();
    let t = 0;
    for (let i = 0; i < reps; i++) t += await time(() => trainer.trainStep());
    const schedule = cosineSchedule(10);
    const run = (optSteps: number) =>
      time(() =>
        sampleBoards(trainer.params.record(), quizzes, {
          model: c.model,
          schedule,
          optSteps,
          rng: Rng.fromSeed(2),
        }),
      );
    await run(0);
    const sample = extrapolate(await run(0), await run(1));
    return { train: t / reps, sample };
  } finally {
    trainer.dispose();
  }
}

const fmt = (x: number | undefined, d = 2) =>
  x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d);

/**
 * `pnpm bench ired [--only cpu|paper] [--reps n] [--threads 1,2,4] [--webgpu] [--device cuda] [--paper-batch n] [--micro-batch n|none]`:
 * training-step time and sampling throughput of the CPU default and the paper preset (loss +
 * gradients at batch 1) on wasm at 1, 2 and all threads (or `--threads`), and on webgpu when
 * there is an adapter (a software one only with `--webgpu`), against the same model, batch and
 * step in PyTorch (bench/ired_peer.py) at the same thread counts, in the same run. `--device
 * cuda` runs the PyTorch peer on the GPU (X_BENCH_PYTHON picks its python). Prints peak RSS.
 */
export async function main(args: string[]): Promise<void> {
  const only = flag(args, 'only');
  const reps = Number(flag(args, 'reps') ?? 2);
  const device = flag(args, 'device') ?? 'cpu';
  const all = availableParallelism();
  const threadsArg = flag(args, 'threads');
  // --threads none: no wasm rows (the GPU run's paper preset, far too slow on wasm).
  const threadList =
    threadsArg === 'none' ? [] : (threadsArg?.split(',').map(Number) ?? [...new Set([1, 2, all])]);
  const probes = await probeBackends({ searchAdapters: flag(args, 'webgpu') !== undefined });
  const gpu = probes.find((p) => p.name === 'webgpu');
  const engines: Engine[] = threadList.map((t) => ({
    label: `wasm ${t}t`,
    backend: 'wasm',
    threads: t,
  }));
  if (
    gpu?.available === true &&
    (flag(args, 'webgpu') !== undefined || gpu.adapter?.software === false)
  )
    engines.push({
      label: `webgpu (${gpu.adapter?.software === true ? 'software' : 'hardware'})`,
      backend: 'webgpu',
    });
  const w = (s: string) => process.stdout.write(`${s}\n`);
  const load = () =>
    loadavg()
      .map((x) => x.toFixed(1))
      .join(' ');
  w(`ired bench: node ${process.version}, ${all} cores, load average ${load()}`);
  if (gpu?.adapter !== undefined) w(`  webgpu adapter: ${gpu.detail}`);
  w(
    '  sampling: boards/s for 10 landscapes x 20 steps; cpu preset extrapolated from full runs with 0 and 1 step per landscape, paper from one denoise and one optimisation step: 10 x (denoise + 20 steps)',
  );
  // --paper-batch n: the paper preset as a full training step (Adam, EMA) at batch n (a GPU's case).
  const paperBatch = flag(args, 'paper-batch');
  // --micro-batch n|none: the CPU case's train.microBatch instead of the preset's.
  const micro = flag(args, 'micro-batch');
  const cases = CASES.map((c): Case =>
    c.name === 'paper' && paperBatch !== undefined
      ? { ...c, trainBatch: Number(paperBatch), sampleBatch: 16, gradsOnly: false }
      : c.name === 'cpu' && micro !== undefined
        ? (({ microBatch: _, ...rest }) =>
            micro === 'none' ? rest : { ...rest, microBatch: Number(micro) })(c)
        : c,
  );
  for (const c of cases.filter((x) => only === undefined || x.name === only)) {
    const params = (parameterCount(c.model) / 1e6).toFixed(2);
    w(
      `\n[${c.name}] ${c.model.channels} channels, ${c.model.blocks} blocks, ${c.model.kernel}x${c.model.kernel}, ${params}M parameters; ${c.gradsOnly ? 'loss + gradients' : `train step (Adam, EMA)`} batch ${c.trainBatch}${c.gradsOnly || c.microBatch === undefined ? '' : ` in micro-batches of ${c.microBatch} (on gradient workers, one per thread, at 2+ threads)`}, sampling batch ${c.sampleBatch}`,
    );
    w(
      '| engine | train step s | sampling boards/s | PyTorch threads | PyTorch step s | PyTorch boards/s | step ratio | sampling ratio |',
    );
    w('|---|---:|---:|---:|---:|---:|---:|---:|');
    const peerThreads = device === 'cpu' ? threadList : [all];
    const torch = new Map<number, PeerResult | string>();
    for (const e of engines) {
      let r: { train: number; sample: number } | string;
      try {
        await initBackend({
          backend: e.backend,
          ...(e.threads === undefined ? {} : { threads: e.threads }),
        });
        r = await ours(c, c.gradsOnly ? 1 : reps);
      } catch (err) {
        r = (err as Error).message.split('\n')[0]?.slice(0, 120) ?? 'failed';
      }
      const pt = e.threads !== undefined && peerThreads.includes(e.threads) ? e.threads : all;
      if (!torch.has(pt)) torch.set(pt, peer(c, c.gradsOnly ? 1 : reps, pt, device));
      const p = torch.get(pt) as PeerResult | string;
      const pSample =
        typeof p === 'string'
          ? NaN
          : extrapolate(p.sampleSeconds['0'] ?? NaN, p.sampleSeconds['1'] ?? NaN);
      if (typeof r === 'string') {
        w(`| ${e.label} | failed: ${r} | | | | | | |`);
        continue;
      }
      w(
        `| ${e.label} | ${fmt(r.train, 3)} | ${fmt(c.sampleBatch / r.sample, 3)} | ${typeof p === 'string' ? p : `${p.threads} (${p.device})`} | ${typeof p === 'string' ? '-' : fmt(p.trainStepSeconds, 3)} | ${fmt(c.sampleBatch / pSample, 3)} | ${typeof p === 'string' ? '-' : `${fmt(r.train / p.trainStepSeconds)}x`} | ${`${fmt(r.sample / pSample)}x`} |`,
      );
    }
    const wasm = engines.filter((e) => e.backend === 'wasm');
    if (wasm.length > 0)
      w(
        `  PyTorch ${[...torch.values()].map((p) => (typeof p === 'string' ? p : `${p.torch} ${p.threads}t peak RSS ${p.peakRssMb.toFixed(0)} MB${p.peakGpuMb === undefined ? '' : `, GPU ${p.peakGpuMb.toFixed(0)} MB`}`)).join('; ')}`,
      );
  }
  w(
    `\npeak RSS of this process ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB; load average at the end ${load()}`,
  );
}
