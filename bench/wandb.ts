import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
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
import { SystemSampler } from '../packages/logging/src/wandb/systemMetrics.js';
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

/** One plain HTTP PUT (node:http, a fresh connection), resolved on a 2xx. */
function put(url: string, body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: 'PUT',
        agent: false,
        headers: { 'x-upload-token': 't1', 'content-length': String(body.length) },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          (res.statusCode ?? 500) < 300 ? resolve() : reject(new Error(`PUT ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A checkpoint directory of one `mb` MiB file (contents differ per `seed`) plus a small manifest. */
function checkpointDir(root: string, seed: number, mb: number): string {
  const dir = join(root, `step-${String(seed).padStart(8, '0')}`);
  mkdirSync(dir, { recursive: true });
  const buf = Buffer.alloc(mb * 1024 * 1024);
  for (let i = 0; i < buf.length; i += 4096) buf.writeUInt32LE((i * 2654435761 + seed) >>> 0, i);
  writeFileSync(join(dir, 'state.safetensors'), buf);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ step: seed }));
  return dir;
}

/**
 * Checkpoints as artifacts: `versions` checkpoints of `mb` MiB logged with `logCheckpoints: all`
 * to the loopback server (time until all are committed, the logCheckpoint() call itself), next
 * to the plain peer: read the same files, MD5 them and PUT them to the same storage origin.
 */
async function artifactPart(root: string, mb: number, versions: number): Promise<void> {
  const server = await startFakeWandb({ apiKey: KEY });
  const dirs = Array.from({ length: versions }, (_, i) =>
    checkpointDir(join(root, 'ckpt'), i + 1, mb),
  );
  // Both paths read the files from a warm page cache.
  for (const d of dirs) await readFile(join(d, 'state.safetensors'));
  // Peer: read + MD5 + one PUT per file, sequentially (what the upload has to do at least).
  const p0 = performance.now();
  const pc0 = process.cpuUsage();
  for (const d of dirs) {
    for (const name of ['state.safetensors', 'manifest.json']) {
      const body = await readFile(join(d, name));
      const md5 = createHash('md5').update(body).digest('base64');
      const url = `${server.storageUrl}/artifact-files/${encodeURIComponent(md5)}/peer-${encodeURIComponent(name)}`;
      await put(url, body);
    }
  }
  const peerSec = (performance.now() - p0) / 1000;
  const peerCpu = process.cpuUsage(pc0);
  server.artifacts.blobs.clear();
  const sink = new WandbSink({
    env: env(server, 'online'),
    config: {
      flushIntervalMs: 50,
      closeTimeoutMs: 600_000,
      logCheckpoints: 'all',
      systemMetrics: false,
    },
  });
  sink.start({
    runDir: join(root, 'art'),
    pipeline: 'bench',
    config: {},
    startStep: 0,
    resumed: false,
  });
  const a0 = performance.now();
  const ac0 = process.cpuUsage();
  const callUs: number[] = [];
  for (const [i, d] of dirs.entries()) {
    const c = performance.now();
    sink.logCheckpoint({ step: i + 1, dir: d, metrics: { loss: 1 / (i + 1) } });
    callUs.push((performance.now() - c) * 1000);
  }
  await sink.close({ exitCode: 0, preempting: false });
  const artSec = (performance.now() - a0) / 1000;
  const artCpu = process.cpuUsage(ac0);
  const committed = server.artifacts.versions(`model-${sink.runId ?? ''}`).length;
  const total = versions * mb;
  const cpuS = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;
  callUs.sort((x, y) => x - y);
  process.stdout.write(
    `\ncheckpoint artifacts: ${versions} × ${mb} MiB over loopback (committed ${committed}/${versions})\n` +
      'path                                   wall s   MiB/s   CPU s   vs peer (wall)\n' +
      `plain read + MD5 + PUT (peer)       ${peerSec.toFixed(2).padStart(9)} ${(total / peerSec).toFixed(0).padStart(7)} ${cpuS(peerCpu).toFixed(2).padStart(7)} ${'1.00'.padStart(9)}\n` +
      `logCheckpoint → committed (artifact) ${artSec.toFixed(2).padStart(8)} ${(total / artSec).toFixed(0).padStart(7)} ${cpuS(artCpu).toFixed(2).padStart(7)} ${(artSec / peerSec).toFixed(2).padStart(9)}\n` +
      `logCheckpoint() call (hard links + artifacts.json): median ${quantile(callUs, 0.5).toFixed(0)} µs, max ${(callUs.at(-1) ?? 0).toFixed(0)} µs\n`,
  );
  const sampler = new SystemSampler(['/'], () => undefined);
  const n = 2000;
  const s0 = performance.now();
  for (let i = 0; i < n; i++) sampler.sample();
  process.stdout.write(
    `system metrics: one sample ${(((performance.now() - s0) / n) * 1000).toFixed(0)} µs (every 15 s by default)\n`,
  );
  await server.close();
}

/**
 * `pnpm bench wandb [steps] [checkpointMiB] [versions]`: log() cost with the W&B sink off, slow
 * (2 s answers), down, offline; sync throughput; checkpoint artifacts vs a plain upload peer;
 * system-metrics sample cost.
 */
export async function main(args: string[]): Promise<void> {
  const steps = Number(args[0] ?? 20_000);
  const ckptMb = Number(args[1] ?? 64);
  const ckptVersions = Number(args[2] ?? 4);
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
  await artifactPart(root, ckptMb, ckptVersions);
}
