import { loadavg } from 'node:os';
import { Rng } from '../packages/core/src/index.js';
import {
  cosineSchedule,
  cpuPreset,
  encodeBatch,
  paperPreset,
  energyAndGrad,
  generatePuzzles,
  IredTrainer,
  SATNET_GIVENS,
  type IredConfig,
} from '../packages/ired/src/index.js';
import { initBackend, tf } from '../packages/tensor/src/index.js';

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? 'true') : undefined;
}

interface Row {
  count: number;
  ms: number;
}

/** Kernel time by kernel name (and, with `shapes`, input shapes), wall time and CPU time of `f`. */
async function profile(
  f: () => Promise<unknown>,
  shapes: boolean,
): Promise<{ rows: Map<string, Row>; wallMs: number; cpuMs: number; kernels: number }> {
  // Kernel times as process CPU time (all threads), steadier than wall time on a shared machine.
  const backend = tf.backend() as unknown as {
    time: (f: () => void) => Promise<{ kernelMs: number }>;
  };
  const wallTimer = backend.time.bind(backend);
  backend.time = (f) => {
    const c0 = process.cpuUsage();
    f();
    const c = process.cpuUsage(c0);
    return Promise.resolve({ kernelMs: (c.user + c.system) / 1000 });
  };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const info = await tf.profile(f as () => Promise<tf.Tensor>);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  backend.time = wallTimer;
  const rows = new Map<string, Row>();
  for (const k of info.kernels) {
    // Scopes (customGrad's forward and backward) contain kernels that are listed themselves.
    if (k.name === 'backward' || k.name === 'unnamed scope') continue;
    const key = shapes
      ? `${k.name} ${k.inputShapes.map((s) => `[${(s ?? []).join(',')}]`).join(' ')}`
      : k.name;
    const r = rows.get(key) ?? { count: 0, ms: 0 };
    r.count += 1;
    r.ms += k.kernelTimeMs as number;
    rows.set(key, r);
  }
  return {
    rows,
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    kernels: [...rows.values()].reduce((a, r) => a + r.count, 0),
  };
}

/**
 * `pnpm bench ired_profile [--threads 1,2] [--top n] [--shapes] [--preset cpu|paper] [--batch n]
 * [--micro-batch n|none] [--sample-batch n] [--warmup n]`: per-kernel time of one IRED training
 * step (loss, gradients, Adam, EMA; default the CPU preset) and one sampling optimisation step
 * (energy and ∇_y E, sampling batch 8) on wasm at each thread count, from `tf.profile`. Kernels of
 * gradient workers (micro-batches at 2+ threads) are not listed; their CPU time is in the totals.
 * Kernel times are process CPU time (every thread) while the kernel ran, steadier than wall time
 * on a shared machine; "other" is CPU time outside kernels (JS dispatch, tape, tidy).
 */
export async function main(args: string[]): Promise<void> {
  const threads = (flag(args, 'threads') ?? '1,2').split(',').map(Number);
  const top = Number(flag(args, 'top') ?? 25);
  const shapes = flag(args, 'shapes') !== undefined;
  const preset = flag(args, 'preset') === 'paper' ? paperPreset : cpuPreset;
  const batch = Number(flag(args, 'batch') ?? preset.train.batchSize);
  const micro = flag(args, 'micro-batch');
  const sampleBatch = Number(flag(args, 'sample-batch') ?? 8);
  const warmup = Number(flag(args, 'warmup') ?? 2);
  const w = (s: string) => process.stdout.write(`${s}\n`);
  const load = () =>
    loadavg()
      .map((x) => x.toFixed(1))
      .join(' ');
  w(`ired profile: node ${process.version}, load average ${load()}`);
  const results = new Map<string, Map<number, Awaited<ReturnType<typeof profile>>>>();
  for (const t of threads) {
    await initBackend({ backend: 'wasm', threads: t });
    const config: IredConfig = structuredClone(preset);
    config.train.batchSize = batch;
    if (micro === 'none') delete config.train.microBatch;
    else if (micro !== undefined) config.train.microBatch = Number(micro);
    const trainer = new IredTrainer({ config, seed: 0 });
    const quizzes = generatePuzzles(Rng.fromSeed(1), sampleBatch, SATNET_GIVENS).map((p) => p.quiz);
    const inp = tf.tensor2d(encodeBatch(quizzes), [sampleBatch, 729]);
    const y = tf.tensor2d(Rng.fromSeed(3).fillNormal(new Float32Array(sampleBatch * 729), 0, 0.1), [
      sampleBatch,
      729,
    ]);
    const ts = new Array<number>(sampleBatch).fill(3);
    const p = trainer.params.record();
    const sampleStep = async () => {
      const r = energyAndGrad(config.model, p, inp, y, ts);
      await r.grad.data();
      r.energy.dispose();
      r.grad.dispose();
    };
    void cosineSchedule;
    try {
      for (let i = 0; i < warmup; i++) await trainer.trainStep();
      await sampleStep();
      const train = await profile(() => trainer.trainStep(), shapes);
      const sample = await profile(sampleStep, shapes);
      for (const [name, r] of [
        ['train step', train],
        [`sampling step (energy + grad, batch ${sampleBatch})`, sample],
      ] as const) {
        const m = results.get(name) ?? new Map<number, Awaited<ReturnType<typeof profile>>>();
        m.set(t, r);
        results.set(name, m);
      }
    } finally {
      trainer.dispose();
      inp.dispose();
      y.dispose();
    }
  }
  for (const [name, byThreads] of results) {
    w(`\n[${name}] CPU ms per call at ${threads.map((t) => `${t}t`).join(' / ')}`);
    w(
      `| kernel | calls | ${threads.map((t) => `${t}t ms`).join(' | ')} | ${threads.length > 1 ? 'scaling |' : ''}`,
    );
    w(`|---|---:|${threads.map(() => '---:|').join('')}${threads.length > 1 ? '---:|' : ''}`);
    const first = byThreads.get(threads[0] as number);
    if (first === undefined) continue;
    const keys = [...first.rows.entries()].sort((a, b) => b[1].ms - a[1].ms).map(([k]) => k);
    const line = (label: string, calls: number | string, ms: number[]) =>
      w(
        `| ${label} | ${calls} | ${ms.map((x) => x.toFixed(1)).join(' | ')} |${ms.length > 1 ? ` ${((ms[0] as number) / (ms[ms.length - 1] as number)).toFixed(2)}x |` : ''}`,
      );
    let shown = 0;
    const sums = threads.map(() => 0);
    for (const k of keys) {
      const ms = threads.map((t) => byThreads.get(t)?.rows.get(k)?.ms ?? 0);
      ms.forEach((x, i) => (sums[i] = (sums[i] as number) + x));
      if (shown++ < top) line(k, first.rows.get(k)?.count ?? 0, ms);
    }
    const all = threads.map((t) => byThreads.get(t));
    line(
      'all kernels',
      first.kernels,
      all.map((r) => [...(r?.rows.values() ?? [])].reduce((a, b) => a + b.ms, 0)),
    );
    const kernelMs = (r: (typeof all)[number]) =>
      [...(r?.rows.values() ?? [])].reduce((x, y) => x + y.ms, 0);
    line(
      'other (outside kernels)',
      '',
      all.map((r) => (r?.cpuMs ?? 0) - kernelMs(r)),
    );
    line(
      'process CPU',
      '',
      all.map((r) => r?.cpuMs ?? 0),
    );
    line(
      'wall',
      '',
      all.map((r) => r?.wallMs ?? 0),
    );
  }
  w(`\nload average at the end ${load()}`);
}
