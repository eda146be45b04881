import { mkdtempSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  ExperimentLogger,
  WandbSink,
  syncOfflineRun,
  type RunInfo,
  type Sink,
} from '../packages/logging/src/index.js';
import { startFakeWandb, type FakeWandb } from '@x/test-utils';

const KEY = 'bench-key-0123456789abcdef0123456789abcdef';

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

function spin(us: number): void {
  const end = performance.now() + us / 1000;
  while (performance.now() < end);
}

interface Result {
  name: string;
  median: number;
  p99: number;
  stepsPerSec: number;
  cpuPerStep: number;
  closeSec: number;
}

/** A training-like loop: some compute, one log() of 8 metrics per step, an await every 10 steps. */
async function trainLoop(
  name: string,
  steps: number,
  sinks: Sink[],
  runDir: string,
): Promise<Result> {
  const run: Omit<RunInfo, 'notify'> = {
    runDir,
    pipeline: 'bench',
    config: { lr: 1e-3 },
    startStep: 0,
    resumed: false,
  };
  const logger = new ExperimentLogger({ run, sinks, onNotice: () => undefined });
  const lat: number[] = [];
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (let s = 0; s < steps; s++) {
    spin(20);
    const values = {
      loss: 1 / (s + 1),
      acc: s / steps,
      lr: 1e-3,
      grad: Math.sqrt(s),
      a: s % 3,
      b: s % 7,
      c: s % 11,
      d: NaN,
    };
    const a = performance.now();
    logger.log(values, { step: s });
    lat.push(performance.now() - a);
    if (s % 10 === 9) await new Promise((r) => setImmediate(r));
  }
  const train = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const c0 = performance.now();
  await logger.close({ exitCode: 0, preempting: false });
  lat.sort((x, y) => x - y);
  return {
    name,
    median: quantile(lat, 0.5) * 1000,
    p99: quantile(lat, 0.99) * 1000,
    stepsPerSec: steps / train,
    cpuPerStep: (cpu.user + cpu.system) / steps,
    closeSec: (performance.now() - c0) / 1000,
  };
}

function env(server: FakeWandb, mode: string): Record<string, string> {
  return {
    WANDB_MODE: mode,
    WANDB_API_KEY: KEY,
    WANDB_BASE_URL: server.url,
    WANDB_PROJECT: 'bench',
    NETRC: '/nonexistent',
  };
}

/** `pnpm bench wandb [steps]`: log() cost with the W&B sink off, slow (2 s answers), down, offline; sync throughput. */
export async function main(args: string[]): Promise<void> {
  const steps = Number(args[0] ?? 20_000);
  const root = mkdtempSync(join(tmpdir(), 'bench-wandb-'));
  const server = await startFakeWandb({ apiKey: KEY });
  const results: Result[] = [];
  const cfg = { flushIntervalMs: 1000, closeTimeoutMs: 15_000 };
  results.push(await trainLoop('off (no sinks)', steps, [], join(root, 'off')));
  const nullSink: Sink = { name: 'null', writeRows: () => undefined };
  results.push(await trainLoop('logger + a no-op sink', steps, [nullSink], join(root, 'null')));

  server.inject({ match: /./, kind: 'slow', delayMs: 2000, times: 1e9 });
  const slow = new WandbSink({ env: env(server, 'online'), config: cfg });
  results.push(await trainLoop('online, server answers in 2 s', steps, [slow], join(root, 'slow')));
  const slowRows = server.runs.get(slow.runId ?? '')?.history.length ?? 0;

  const server2 = await startFakeWandb({ apiKey: KEY });
  server2.down = true;
  const down = new WandbSink({
    env: env(server2, 'online'),
    config: { ...cfg, closeTimeoutMs: 500, maxMemoryBytes: 1 << 20 },
  });
  results.push(await trainLoop('online, server down (503)', steps, [down], join(root, 'down')));
  const downMem = down.stats().memoryBytes;

  const offline = new WandbSink({ env: env(server2, 'offline'), config: cfg });
  const offDir = join(root, 'offline');
  results.push(await trainLoop('offline', steps, [offline], offDir));

  const base = results[0] as Result;
  process.stdout.write(
    `W&B sink benchmark: ${steps} steps × 8 metrics, 20 µs compute/step, node ${process.version}, ${cpus().length}× ${cpus()[0]?.model ?? '?'}\n`,
  );
  process.stdout.write(
    'scenario                          log() median µs   p99 µs   steps/s   vs off   CPU µs/step   close s\n',
  );
  for (const r of results) {
    process.stdout.write(
      `${r.name.padEnd(33)} ${r.median.toFixed(2).padStart(13)} ${r.p99.toFixed(2).padStart(8)} ${r.stepsPerSec.toFixed(0).padStart(9)} ${(r.stepsPerSec / base.stepsPerSec).toFixed(2).padStart(8)} ${r.cpuPerStep.toFixed(1).padStart(13)} ${r.closeSec.toFixed(2).padStart(9)}\n`,
    );
  }
  process.stdout.write(
    `slow server received ${slowRows}/${steps} rows; memory held while down: ${(downMem / 1024).toFixed(0)} KiB (bound 1024 KiB)\n`,
  );

  server2.down = false;
  const t0 = performance.now();
  const res = await syncOfflineRun(offDir, { env: env(server2, 'online') });
  const secs = (performance.now() - t0) / 1000;
  process.stdout.write(
    `sync of the offline run: ${res.historySent} rows in ${secs.toFixed(2)} s = ${(res.historySent / secs).toFixed(0)} rows/s\n`,
  );
  await server.close();
  await server2.close();
}
