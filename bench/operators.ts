import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { tsArgs } from '@x/test-utils';
import { initBackend } from '../packages/tensor/src/index.js';
import {
  DatasetWriter,
  generateDataset,
  initialCondition,
  operatorSpec,
  replayDataset,
  resolveDatasetConfig,
  summaryFamily,
  trajectoryShape,
  type DatasetConfig,
} from '../packages/operator-replay/src/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'bench', 'out', 'operators');

/** Throughput config: grid 16, 16 timesteps, 3 realizations, 4–8 base channels (both backends). */
export const benchRaw = {
  rootSeed: 7,
  timesteps: 16,
  realizations: 3,
  chunkSize: 8,
  parameters: {
    grid_size: { kind: 'choice', options: [16] },
    base_channels: { kind: 'int', min: 4, max: 8 },
  },
};
/** 64-operator verification config (kept small so the cpu backend finishes in minutes). */
const verifyRaw = {
  rootSeed: 64,
  timesteps: 8,
  realizations: 2,
  chunkSize: 16,
  parameters: {
    grid_size: { kind: 'choice', options: [12] },
    base_channels: { kind: 'int', min: 2, max: 4 },
  },
};

function withoutBackendEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env['X_BACKEND'];
  return env;
}

function runner(args: string[]): { code: number; out: string; seconds: number } {
  const t = performance.now();
  const r = spawnSync(process.execPath, tsArgs(join(root, 'apps/runner/src/bin.ts'), args), {
    cwd: root,
    encoding: 'utf8',
    env: withoutBackendEnv(),
    timeout: 1_800_000,
  });
  return {
    code: r.status ?? -1,
    out: `${r.stdout}${r.stderr}`.trim(),
    seconds: (performance.now() - t) / 1000,
  };
}

function torchPeer(config: DatasetConfig, n: number): string {
  const spec = {
    timesteps: config.timesteps,
    realizations: config.realizations,
    channels: config.channels,
    noisePeriod: config.noisePeriod,
    icCorrelation: config.icCorrelation,
    operators: Array.from({ length: n }, (_, i) => operatorSpec(config, i).params),
  };
  const file = join(outDir, 'torch-spec.json');
  writeFileSync(file, JSON.stringify(spec));
  const lines: string[] = [];
  for (const threads of [1, 2]) {
    const r = spawnSync(
      '/usr/bin/python3',
      [join(root, 'bench/operators_torch.py'), file, String(threads)],
      { encoding: 'utf8' },
    );
    if (r.status !== 0)
      return `torch peer unavailable (${(r.stderr || r.error?.message || '').trim().split('\n').pop()})`;
    const j = JSON.parse(r.stdout.trim().split('\n').pop() as string) as {
      opsPerSecond: number;
      threads: number;
      torch: string;
    };
    lines.push(
      `torch ${j.torch} cpu ${j.threads} thread(s): ${j.opsPerSecond.toFixed(2)} ops/s (rollout only)`,
    );
  }
  return lines.join('\n');
}

function bytesForComparableConfig(): string {
  const config = resolveDatasetConfig({
    rootSeed: 1,
    timesteps: 250,
    realizations: 3,
    chunkSize: 8,
    parameters: { grid_size: { kind: 'choice', options: [128] } },
  });
  const n = 16;
  const file = join(outDir, 'storage-128.h5');
  const w = DatasetWriter.create(
    file,
    {
      config,
      totalOperators: n,
      shard: { index: 0, count: 1 },
      start: 0,
      count: n,
      environment: {
        backend: 'n/a',
        backendPackage: 'n/a',
        tfjsVersion: 'n/a',
        nodeVersion: process.versions.node,
      },
    },
    [],
  );
  w.writeBatch(
    0,
    Array.from({ length: n }, (_, i) => {
      const s = operatorSpec(config, i);
      return {
        index: i,
        unit: s.unit,
        seed: s.streams.seed,
        hash: s.streams.seed,
        ic: initialCondition(s.streams.ic, 3, 128, config.icCorrelation),
        features: {},
      };
    }),
  );
  w.close();
  const measured = statSync(file).size / n;
  const featureFloats = summaryFamily
    .datasets(trajectoryShape(config))
    .reduce((a, d) => a + d.trailing.reduce((x, y) => x * y, 1), 0);
  const perOp = measured + featureFloats * 4;
  const original = 644e6 / 4000;
  return (
    `storage at the original's configuration (grid 128, T=250, M=3): IC+params+seeds+hash measured ${(measured / 1024).toFixed(1)} KiB/op (gzip 4) + summary features ${featureFloats} float32 = ${((featureFloats * 4) / 1024).toFixed(1)} KiB/op (uncompressed bound) → ${(perOp / 1024).toFixed(1)} KiB/op\n` +
    `original Spinlock: 644 MB / 4,000 ops = ${(original / 1024).toFixed(1)} KiB/op → ratio ours/original ${(perOp / original).toFixed(2)}`
  );
}

export async function main(args: string[]): Promise<void> {
  const quick = args.includes('--quick');
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const config = resolveDatasetConfig(benchRaw);
  const n = quick ? 4 : 8;
  process.stdout.write(
    `machine: ${cpus().length}× ${cpus()[0]?.model ?? '?'}, Node ${process.versions.node}\n`,
  );
  process.stdout.write(
    `throughput config: grid 16, T=16, M=3, base channels 4–8, ${n} operators\n`,
  );
  const rates: Record<string, { gen: number; replay: number }> = {};
  for (const request of ['auto', 'cpu'] as const) {
    const info = await initBackend(request);
    const file = join(outDir, `throughput-${info.name}.h5`);
    // Warm-up (2 operators): starts wasm's generation workers (kept between calls) at 2+ threads.
    await generateDataset({ config, total: 2, out: join(outDir, `warm-${info.name}.h5`) });
    let t = performance.now();
    await generateDataset({ config, total: n, out: file });
    const gen = n / ((performance.now() - t) / 1000);
    t = performance.now();
    const rep = await replayDataset(file);
    const replay = n / ((performance.now() - t) / 1000);
    if (rep.mismatches.length > 0) throw new Error(`in-process replay mismatch on ${info.name}`);
    rates[info.name] = { gen, replay };
    const bytes = statSync(file).size / n;
    process.stdout.write(
      `${info.name.padEnd(6)} (requested ${request}, ${info.threads ?? 1} thread(s), warm): generate+summary ${gen.toFixed(2)} ops/s, replay ${replay.toFixed(2)} ops/s, file ${(bytes / 1024).toFixed(1)} KiB/op\n`,
    );
  }
  // Thread scaling of generation on wasm, in this process (CPU time too: steadier on a shared
  // machine), after a warm-up that starts the workers (kept between calls).
  const scaling: { threads: number; gen: number; cpu: number }[] = [];
  for (const threads of [1, 2]) {
    await initBackend({ backend: 'wasm', threads });
    // Warm-up (2 operators): at 2+ threads this starts the generation workers, which stay.
    await generateDataset({ config, total: 2, out: join(outDir, `warm-${threads}.h5`) });
    const file = join(outDir, `threads-${threads}.h5`);
    const c0 = process.cpuUsage();
    const t = performance.now();
    await generateDataset({ config, total: n, out: file });
    const c = process.cpuUsage(c0);
    scaling.push({
      threads,
      gen: n / ((performance.now() - t) / 1000),
      cpu: (c.user + c.system) / 1e6 / n,
    });
  }
  process.stdout.write(
    `thread scaling of generate on wasm (workers warm): ${scaling.map((r) => `${r.threads}t ${r.gen.toFixed(2)} ops/s (${r.cpu.toFixed(2)} CPU s/op)`).join(', ')}; 2t/1t ${((scaling[1]?.gen ?? NaN) / (scaling[0]?.gen ?? NaN)).toFixed(2)}x (load average ${loadavg()[0]?.toFixed(1) ?? '?'})\n`,
  );
  await initBackend('auto');
  const names = Object.keys(rates);
  if (names.length === 2) {
    const [a, b] = names as [string, string];
    process.stdout.write(
      `ratio ${a}/${b}: generate ${(rates[a]!.gen / rates[b]!.gen).toFixed(1)}×, replay ${(rates[a]!.replay / rates[b]!.replay).toFixed(1)}×\n`,
    );
  }
  process.stdout.write(`${torchPeer(config, n)}\n`);
  process.stdout.write(`${bytesForComparableConfig()}\n`);
  const total = quick ? 8 : 64;
  for (const backend of [...new Set(names)]) {
    const file = join(outDir, `verify64-${backend}.h5`);
    const cfg = join(outDir, 'verify.yaml');
    writeFileSync(cfg, JSON.stringify(verifyRaw));
    const g = runner([
      'operators',
      'generate',
      '--n',
      String(total),
      '--out',
      file,
      '--backend',
      backend,
      '--pictures',
      '0',
      '--quiet',
      '--config',
      cfg,
    ]);
    if (g.code !== 0) throw new Error(`generate failed: ${g.out}`);
    const r = runner(['operators', 'replay', file, '--verify', '--quiet']);
    process.stdout.write(
      `${backend}: ${total}-operator dataset generated in one process (${g.seconds.toFixed(0)} s), replay --verify in another: exit ${r.code}, ${r.out.split('\n')[0] ?? ''} (${r.seconds.toFixed(0)} s)\n`,
    );
  }
}
