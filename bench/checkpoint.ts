import { open, rm } from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CheckpointManager } from '../packages/checkpoint/src/index.js';
import {
  sharedTensorData,
  tensorData,
  type Component,
  type ComponentMap,
  type State,
  type TensorData,
} from '../packages/core/src/index.js';
import { VariableSet, initBackend, tf, type BackendName } from '../packages/tensor/src/index.js';

const MB = 1e6;
const TENSOR_BYTES = 4 * 2 ** 20;

/** A model-like state of `bytes` bytes in float32 tensors of 4 MiB, filled deterministically. */
function makeState(bytes: number, shared = false): Record<string, TensorData> {
  const out: Record<string, TensorData> = {};
  let left = bytes;
  let seed = 0x9e3779b9;
  for (let i = 0; left > 0; i++) {
    const n = Math.min(TENSOR_BYTES, left) / 4;
    const t = shared ? sharedTensorData('float32', [n]) : tensorData('float32', [n]);
    const u = new Uint32Array(t.data.buffer);
    for (let j = 0; j < n; j++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      u[j] = (seed & 0x3fffffff) | 0x3c000000;
    }
    out[`layer${String(i).padStart(4, '0')}/kernel`] = t;
    left -= n * 4;
  }
  return out;
}

/** Hands out its tensors without copying (the cost measured is the checkpoint library's own). */
class Holder implements Component {
  constructor(public state: Record<string, TensorData>) {}
  getState(): State {
    return this.state;
  }
  setState(s: State): void {
    this.state = s as Record<string, TensorData>;
  }
}

async function plainWrite(path: string, state: Record<string, TensorData>): Promise<void> {
  const h = await open(path, 'w');
  let pos = 0;
  for (const t of Object.values(state)) {
    const b = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    await h.write(b, 0, b.length, pos);
    pos += b.length;
  }
  await h.sync();
  await h.close();
}

/**
 * Reads the bytes back into fresh buffers, one per tensor, and keeps every buffer until the timing
 * ends, like a restored state (discarding each buffer lets the allocator reuse its pages, which a
 * restore that keeps the whole state cannot do). Returns the buffers for the caller to drop.
 */
async function plainRead(path: string, state: Record<string, TensorData>): Promise<Uint8Array[]> {
  const h = await open(path, 'r');
  const kept: Uint8Array[] = [];
  let pos = 0;
  for (const t of Object.values(state)) {
    const b = new Uint8Array(t.data.byteLength);
    await h.read(b, 0, b.length, pos);
    kept.push(b);
    pos += b.length;
  }
  await h.close();
  return kept;
}

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/**
 * Wall seconds of `fn`; its CPU seconds (all threads of the process) go to `cpu`. Every timing
 * starts after a full garbage collection, so no side inherits the pages another one just dropped.
 */
async function time(cpu: number[], fn: () => Promise<unknown>): Promise<number> {
  collectGarbage();
  await new Promise((r) => setTimeout(r, 20));
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const c = process.cpuUsage(c0);
  cpu.push((c.user + c.system) / 1e6);
  return (performance.now() - t0) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** `100 MB`, `1.0 GB`: how the tables name a state size. */
function sizeLabel(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${(bytes / MB).toFixed(0)} MB`;
}

/** A markdown table on stdout. */
function printTable(header: string[], rows: string[][]): void {
  process.stdout.write(`| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|\n`);
  for (const r of rows) process.stdout.write(`| ${r.join(' | ')} |\n`);
}

interface Row {
  label: string;
  bytes: number;
  plainW: number;
  saveS: number;
  plainR: number;
  restore: number;
  restoreFull: number;
  asyncFirst: number;
  asyncBlock: number;
  asyncBlockNoCopy: number;
  /** Async block (copying) when the state's tensors live in shared memory (sharedTensorData). */
  asyncBlockShared: number;
  stallCopy: number;
  stallNoCopy: number;
  /** Median CPU seconds (all threads) of save / plain write and restore / plain read. */
  cpuSave: number;
  cpuRestore: number;
}

/**
 * Time until an async save returns (after a full GC, like every timing), then the longest
 * event-loop stall while it finishes.
 */
async function asyncSave(mgr: CheckpointManager, step: number, comp: ComponentMap) {
  collectGarbage();
  await new Promise((r) => setTimeout(r, 20));
  const t0 = performance.now();
  await mgr.save(step, comp);
  const blocked = (performance.now() - t0) / 1000;
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  await mgr.wait();
  h.disable();
  return { blocked, stall: h.max / 1e9 };
}

async function benchSize(
  root: string,
  bytes: number,
  reps: number,
  log: (s: string) => void,
): Promise<Row> {
  const label = sizeLabel(bytes);
  log(`[${label}] building state…`);
  const state = makeState(bytes);
  const comp = { model: new Holder(state) };
  const sharedComp = { model: new Holder(makeState(bytes, true)) };
  const r: Record<keyof Omit<Row, 'label' | 'bytes' | 'cpuSave' | 'cpuRestore'>, number[]> = {
    plainW: [],
    saveS: [],
    plainR: [],
    restore: [],
    restoreFull: [],
    asyncFirst: [],
    asyncBlock: [],
    asyncBlockNoCopy: [],
    asyncBlockShared: [],
    stallCopy: [],
    stallNoCopy: [],
  };
  const cpuOf = {
    plainW: [] as number[],
    plainR: [] as number[],
    saveS: [] as number[],
    restore: [] as number[],
  };
  const last = (k: keyof typeof r) => (r[k].at(-1) as number).toFixed(2);
  for (let rep = 0; rep < reps; rep++) {
    const dir = join(root, `${label.replace(' ', '')}-${rep}`);
    const plain = join(root, 'plain.bin');
    const sync = new CheckpointManager(join(dir, 'sync'));
    const pair = [
      async () => {
        r.plainW.push(await time(cpuOf.plainW, () => plainWrite(plain, state)));
        r.plainR.push(await time(cpuOf.plainR, () => plainRead(plain, state)));
        await rm(plain, { force: true });
      },
      async () => {
        r.saveS.push(await time(cpuOf.saveS, () => sync.save(1, comp)));
        r.restore.push(await time(cpuOf.restore, () => sync.restore({ model: new Holder({}) })));
        r.restoreFull.push(
          await time([], () => sync.restore({ model: new Holder({}) }, { verifyDigest: true })),
        );
        await rm(join(dir, 'sync'), { recursive: true, force: true });
      },
    ];
    // Alternate which goes first: the second writer reuses the pages the first one freed.
    for (const run of rep % 2 === 0 ? pair : [...pair].reverse()) await run();
    log(
      `[${label}] rep ${rep + 1}: plain write ${last('plainW')} s, read ${last('plainR')} s; checkpoint save ${last('saveS')} s, restore+verify ${last('restore')} s (with digest ${last('restoreFull')} s)`,
    );
    for (const variant of ['copy', 'shared', 'nocopy'] as const) {
      const mgr = new CheckpointManager(join(dir, `async-${variant}`), {
        async: true,
        copyState: variant !== 'nocopy',
      });
      const c = variant === 'shared' ? sharedComp : comp;
      const first = await asyncSave(mgr, 1, c);
      const steady = await asyncSave(mgr, 2, c);
      if (variant === 'copy') {
        r.asyncFirst.push(first.blocked);
        r.asyncBlock.push(steady.blocked);
        r.stallCopy.push(steady.stall);
      } else if (variant === 'shared') r.asyncBlockShared.push(steady.blocked);
      else {
        r.asyncBlockNoCopy.push(steady.blocked);
        r.stallNoCopy.push(steady.stall);
      }
      await rm(join(dir, `async-${variant}`), { recursive: true, force: true });
    }
    log(
      `[${label}] rep ${rep + 1}: async save blocked ${last('asyncFirst')} s first, ${last('asyncBlock')} s next (copy), ${last('asyncBlockShared')} s (copy of a shared state), ${last('asyncBlockNoCopy')} s (no copy); longest event-loop stall while writing ${last('stallCopy')} s (copy), ${last('stallNoCopy')} s (no copy)`,
    );
    await rm(dir, { recursive: true, force: true });
  }
  const m = (k: keyof typeof r) => median(r[k]);
  const ratios = (a: number[], b: number[]) => median(a.map((x, i) => x / (b[i] as number)));
  return {
    label,
    bytes,
    cpuSave: ratios(cpuOf.saveS, cpuOf.plainW),
    cpuRestore: ratios(cpuOf.restore, cpuOf.plainR),
    plainW: m('plainW'),
    saveS: m('saveS'),
    plainR: m('plainR'),
    restore: m('restore'),
    restoreFull: m('restoreFull'),
    asyncFirst: m('asyncFirst'),
    asyncBlock: m('asyncBlock'),
    asyncBlockNoCopy: m('asyncBlockNoCopy'),
    asyncBlockShared: m('asyncBlockShared'),
    stallCopy: m('stallCopy'),
    stallNoCopy: m('stallNoCopy'),
  };
}

interface TfjsRow {
  label: string;
  backend: string;
  /** Sync save and async block through snapshot() (now) and through getState() (before). */
  saveSnap: number;
  blockSnap: number;
  saveGet: number;
  blockGet: number;
  /** Restore of the sync checkpoint into the live VariableSet (verify + setState). */
  restore: number;
}

/** Only getState(): how a model's state was captured before snapshot(). */
function viaGetState(c: Component): Component {
  return { getState: () => c.getState(), setState: (s: State) => c.setState(s) };
}

/**
 * A model's state held in tfjs (a VariableSet of 4 MiB float32 variables on `backend`), saved
 * sync and async with the default copying semantics, captured through snapshot() and through
 * getState() alone (a deep copy out of the backend into fresh arrays).
 */
async function benchTfjs(
  root: string,
  bytes: number,
  backend: BackendName,
  reps: number,
  log: (s: string) => void,
): Promise<TfjsRow> {
  const info = await initBackend(backend);
  const threads = info.threads === 1 ? '1 thread' : `${info.threads} threads`;
  const name = info.threads === undefined ? info.name : `${info.name} (${threads})`;
  const label = sizeLabel(bytes);
  const params = new VariableSet();
  for (const [k, t] of Object.entries(makeState(bytes)))
    params.add(k, tf.tensor(t.data, [...t.shape], 'float32'));
  const r = {
    saveSnap: [] as number[],
    blockSnap: [] as number[],
    saveGet: [] as number[],
    blockGet: [] as number[],
    restore: [] as number[],
  };
  try {
    for (let rep = 0; rep < reps; rep++) {
      for (const via of ['snapshot', 'getState'] as const) {
        const comp = { model: via === 'snapshot' ? params : viaGetState(params) };
        const dir = join(root, `tfjs-${backend}-${via}-${rep}`);
        const sync = new CheckpointManager(join(dir, 'sync'));
        // Steady state, as in training: the manager's second save (its first allocates the
        // staging memory that views are copied into).
        await sync.save(1, comp);
        const saved = await time([], () => sync.save(2, comp));
        if (via === 'snapshot') r.restore.push(await time([], () => sync.restore(comp)));
        const mgr = new CheckpointManager(join(dir, 'async'), { async: true });
        await asyncSave(mgr, 1, comp);
        const steady = await asyncSave(mgr, 2, comp);
        (via === 'snapshot' ? r.saveSnap : r.saveGet).push(saved);
        (via === 'snapshot' ? r.blockSnap : r.blockGet).push(steady.blocked);
        await rm(dir, { recursive: true, force: true });
        log(
          `[${label} tfjs ${name}] rep ${rep + 1} via ${via}: sync save ${saved.toFixed(2)} s, async block ${steady.blocked.toFixed(3)} s`,
        );
      }
    }
  } finally {
    params.dispose();
  }
  return {
    label,
    backend: name,
    saveSnap: median(r.saveSnap),
    blockSnap: median(r.blockSnap),
    saveGet: median(r.saveGet),
    blockGet: median(r.blockGet),
    restore: median(r.restore),
  };
}

/** `pnpm bench checkpoint [--sizes 100,1000] [--reps 3] [--tfjs cpu,wasm|none]` (sizes in MB). */
export async function main(args: string[]): Promise<void> {
  const get = (flag: string) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const sizes = (get('--sizes') ?? '100,1000').split(',').map((s) => Number(s) * MB);
  const reps = Number(get('--reps') ?? '3');
  const loadStart = loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const root = mkdtempSync(join(tmpdir(), 'x-bench-ckpt-'));
  const backends = (get('--tfjs') ?? 'cpu,wasm').split(',').filter((b) => b !== 'none');
  const rows: Row[] = [];
  const tfRows: TfjsRow[] = [];
  try {
    for (const bytes of sizes) rows.push(await benchSize(root, bytes, reps, log));
    for (const bytes of sizes)
      for (const b of backends)
        tfRows.push(await benchTfjs(root, bytes, b as BackendName, reps, log));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  const cpu = cpus()[0]?.model ?? 'cpu';
  const load = loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  const out = (s: string) => process.stdout.write(`${s}\n`);
  out(
    `\ncheckpoint benchmark — ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, node ${process.versions.node}, dir ${tmpdir()} (warm page cache), median of ${reps}, load average (1/5/15 min) at the start ${loadStart}, at the end ${load}`,
  );
  out(
    'save = safetensors + state.json + manifest (SHA-256 of the files and the state digest, each on its own worker thread), fsync, rename; plain = one fs write of the same bytes + fsync (the two alternate which runs first)',
  );
  out(
    'restore = read + SHA-256 and size of every file (on a worker thread) + structural checks + setState (the state digest is recomputed only with verifyDigest, as verify does); plain = fs read of the same bytes into fresh buffers, kept like a restored state (one per tensor, dropped after the timing); restore verifyDigest = restore that also recomputes the state digest (on a second worker); every timing starts after a full GC\n',
  );
  const hdr = [
    'state',
    'plain write',
    'ckpt save',
    'save/plain',
    'plain read',
    'restore',
    'restore/plain',
    'restore verifyDigest',
    'CPU s/p, r/p',
    'async block (first)',
    'async block',
    'block share',
    'shared-state block',
    'share',
    'no-copy block',
    'share',
    'stall copy / no-copy',
  ];
  printTable(
    hdr,
    rows.map((r) => {
      const rate = (s: number) => `${(r.bytes / MB / s).toFixed(0)} MB/s`;
      return [
        r.label,
        `${r.plainW.toFixed(2)} s (${rate(r.plainW)})`,
        `${r.saveS.toFixed(2)} s (${rate(r.saveS)})`,
        `${(r.saveS / r.plainW).toFixed(2)}×`,
        `${r.plainR.toFixed(2)} s (${rate(r.plainR)})`,
        `${r.restore.toFixed(2)} s (${rate(r.restore)})`,
        `${(r.restore / r.plainR).toFixed(2)}×`,
        `${r.restoreFull.toFixed(2)} s (${(r.restoreFull / r.plainR).toFixed(2)}×)`,
        `${r.cpuSave.toFixed(2)}×, ${r.cpuRestore.toFixed(2)}×`,
        `${r.asyncFirst.toFixed(3)} s`,
        `${r.asyncBlock.toFixed(3)} s`,
        `${((100 * r.asyncBlock) / r.saveS).toFixed(1)}%`,
        `${r.asyncBlockShared.toFixed(3)} s`,
        `${((100 * r.asyncBlockShared) / r.saveS).toFixed(1)}%`,
        `${r.asyncBlockNoCopy.toFixed(3)} s`,
        `${((100 * r.asyncBlockNoCopy) / r.saveS).toFixed(1)}%`,
        `${r.stallCopy.toFixed(3)} / ${r.stallNoCopy.toFixed(3)} s`,
      ];
    }),
  );
  out(
    '\nasync block = time `save` blocks the caller with async: true on a manager that saved before (first = its first save, which allocates the staging copy); block share = that as a share of a synchronous save (copy: the default, state copied into reusable shared staging memory, on the calling thread because only it can read unshared arrays; shared-state: the same state built with sharedTensorData, so helper threads copy part of it; no-copy: copyState: false). CPU s/p, r/p = CPU seconds of all threads of the process, save over plain write and restore over plain read (what the work costs whatever the load of the machine). stall = longest event-loop delay while the background save finishes (both hashes on worker threads: the staged copy is read in place, an uncopied state is copied through small reused rings)',
  );
  if (tfRows.length > 0) {
    out(
      "\nA model state held in tfjs (VariableSet of 4 MiB float32 variables), default copying semantics, a manager's second save (sync and async): captured through snapshot() (now) or getState() alone (before: a deep copy into fresh arrays); share = async block / sync save; restore = restore of the sync checkpoint into the same VariableSet (checksums + setState)",
    );
    const h2 = [
      'state',
      'backend',
      'sync save',
      'async block',
      'share',
      'before: sync save',
      'before: async block',
      'share',
      'restore',
    ];
    printTable(
      h2,
      tfRows.map((t) => [
        t.label,
        t.backend,
        `${t.saveSnap.toFixed(2)} s`,
        `${t.blockSnap.toFixed(3)} s`,
        `${((100 * t.blockSnap) / t.saveSnap).toFixed(1)}%`,
        `${t.saveGet.toFixed(2)} s`,
        `${t.blockGet.toFixed(3)} s`,
        `${((100 * t.blockGet) / t.saveGet).toFixed(1)}%`,
        `${t.restore.toFixed(2)} s`,
      ]),
    );
  }
}
