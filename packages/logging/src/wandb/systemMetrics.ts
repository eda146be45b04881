import { readFileSync, statfsSync } from 'node:fs';
import { availableParallelism, freemem, totalmem } from 'node:os';

/**
 * Extra system metrics from the caller (e.g. the runner's GPU backend), as W&B names them
 * without the `system.` prefix: `{ 'gpu.0.memoryAllocatedBytes': 1.2e9 }`. Called on every sample;
 * return `undefined` (or throw) when there is nothing to report.
 */
export type SystemProbe = () => Record<string, number> | undefined;

const MB = 1024 * 1024;
const GB = 1024 * MB;

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** `MemAvailable` (bytes) from /proc/meminfo (Linux), as psutil's `available`. */
function availableMemory(): number {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(readText('/proc/meminfo') ?? '');
  return m === null ? freemem() : Number(m[1]) * 1024;
}

/** Bytes sent/received over all interfaces (/proc/net/dev; psutil's `net_io_counters()`). */
function networkBytes(): { sent: number; recv: number } | undefined {
  const text = readText('/proc/net/dev');
  if (text === undefined) return undefined;
  let sent = 0;
  let recv = 0;
  for (const line of text.split('\n').slice(2)) {
    const parts = line.trim().split(/[:\s]+/);
    if (parts.length < 10) continue;
    recv += Number(parts[1]);
    sent += Number(parts[9]);
  }
  return { sent, recv };
}

const WHOLE_DISK = /^(sd[a-z]+|vd[a-z]+|xvd[a-z]+|hd[a-z]+|nvme\d+n\d+|mmcblk\d+)$/;

/** Bytes read/written by whole disks (/proc/diskstats sectors × 512). */
function diskBytes(): { read: number; written: number } | undefined {
  const text = readText('/proc/diskstats');
  if (text === undefined) return undefined;
  let read = 0;
  let written = 0;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !WHOLE_DISK.test(f[2] ?? '')) continue;
    read += Number(f[5]) * 512;
    written += Number(f[9]) * 512;
  }
  return { read, written };
}

function threadCount(): number | undefined {
  const m = /^Threads:\s+(\d+)/m.exec(readText('/proc/self/status') ?? '');
  return m === null ? undefined : Number(m[1]);
}

/**
 * Samples the metrics the W&B SDK records, under its names (wandb core `internal/monitor`; the
 * docs' system-metrics reference): `cpu` (this process, % of all cores), `proc.cpu.threads`,
 * `memory_percent`, `proc.memory.availableMB`, `proc.memory.rssMB`, `proc.memory.percent`,
 * `disk.<path>.usagePercent`, `disk.<path>.usageGB`, `disk.in` / `disk.out` (MB since start),
 * `network.sent` / `network.recv` (bytes since start), plus whatever the probe adds (GPU).
 * Metrics the platform cannot provide are left out.
 */
export class SystemSampler {
  readonly #diskPaths: readonly string[];
  readonly #probe: () => SystemProbe | undefined;
  readonly #cores = Math.max(1, availableParallelism());
  #cpu = process.cpuUsage();
  #wall = process.hrtime.bigint();
  readonly #net0 = networkBytes();
  readonly #disk0 = diskBytes();

  constructor(diskPaths: readonly string[], probe: () => SystemProbe | undefined) {
    this.#diskPaths = diskPaths;
    this.#probe = probe;
  }

  /** One sample, keys without the `system.` prefix. */
  sample(): Record<string, number> {
    const out: Record<string, number> = {};
    const now = process.hrtime.bigint();
    const cpu = process.cpuUsage(this.#cpu);
    const wallUs = Number(now - this.#wall) / 1000;
    this.#cpu = process.cpuUsage();
    this.#wall = now;
    if (wallUs > 0) out['cpu'] = ((cpu.user + cpu.system) / wallUs / this.#cores) * 100;
    const threads = threadCount();
    if (threads !== undefined) out['proc.cpu.threads'] = threads;
    const total = totalmem();
    const available = availableMemory();
    const rss = process.memoryUsage.rss();
    out['memory_percent'] = ((total - available) / total) * 100;
    out['proc.memory.availableMB'] = available / MB;
    out['proc.memory.rssMB'] = rss / MB;
    out['proc.memory.percent'] = (rss / total) * 100;
    for (const path of this.#diskPaths) {
      try {
        const st = statfsSync(path);
        const used = (st.blocks - st.bfree) * st.bsize;
        const denom = used + st.bavail * st.bsize;
        out[`disk.${path}.usagePercent`] = denom > 0 ? (used / denom) * 100 : 0;
        out[`disk.${path}.usageGB`] = used / GB;
      } catch {
        /* a path that cannot be read is left out, as the SDK does */
      }
    }
    const disk = diskBytes();
    if (disk !== undefined && this.#disk0 !== undefined) {
      out['disk.in'] = (disk.read - this.#disk0.read) / MB;
      out['disk.out'] = (disk.written - this.#disk0.written) / MB;
    }
    const net = networkBytes();
    if (net !== undefined && this.#net0 !== undefined) {
      out['network.sent'] = net.sent - this.#net0.sent;
      out['network.recv'] = net.recv - this.#net0.recv;
    }
    try {
      const extra = this.#probe()?.();
      if (extra !== undefined) {
        for (const [k, v] of Object.entries(extra)) if (Number.isFinite(v)) out[k] = v;
      }
    } catch {
      /* a failing probe must not stop the other metrics */
    }
    return out;
  }
}

/**
 * Samples system metrics every `everySeconds` on an unref'd timer (it never keeps the process
 * alive) and hands each row to `push`; `stop()` ends it.
 */
export class SystemMonitor {
  readonly #timer: NodeJS.Timeout;

  constructor(o: {
    everySeconds: number;
    sampler: SystemSampler;
    push: (values: Record<string, number>, time: number) => void;
  }) {
    this.#timer = setInterval(() => {
      o.push(o.sampler.sample(), Date.now() / 1000);
    }, o.everySeconds * 1000);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
