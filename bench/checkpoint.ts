import { open, rm } from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CheckpointManager } from '../packages/checkpoint/src/index.js';
import {
  tensorData,
  type Component,
  type State,
  type TensorData,
} from '../packages/core/src/index.js';

const MB = 1e6;
const TENSOR_BYTES = 4 * 2 ** 20;

/** A model-like state of `bytes` bytes in float32 tensors of 4 MiB, filled deterministically. */
function makeState(bytes: number): Record<string, TensorData> {
  const out: Record<string, TensorData> = {};
  let left = bytes;
  let seed = 0x9e3779b9;
  for (let i = 0; left > 0; i++) {
    const n = Math.min(TENSOR_BYTES, left) / 4;
    const t = tensorData('float32', [n]);
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

async function plainRead(path: string, state: Record<string, TensorData>): Promise<void> {
  const h = await open(path, 'r');
  let pos = 0;
  for (const t of Object.values(state)) {
    const b = new Uint8Array(t.data.byteLength);
    await h.read(b, 0, b.length, pos);
    pos += b.length;
  }
  await h.close();
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

interface Row {
  label: string;
  plainW: number;
  saveS: number;
  plainR: number;
  restore: number;
  asyncBlock: number;
  asyncBlockNoCopy: number;
  asyncTotal: number;
}

async function benchSize(
  root: string,
  bytes: number,
  reps: number,
  log: (s: string) => void,
): Promise<Row> {
  const label = bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${(bytes / MB).toFixed(0)} MB`;
  log(`[${label}] building state…`);
  const state = makeState(bytes);
  const comp = { model: new Holder(state) };
  const r: Record<string, number[]> = {
    plainW: [],
    saveS: [],
    plainR: [],
    restore: [],
    asyncBlock: [],
    asyncBlockNoCopy: [],
    asyncTotal: [],
  };
  for (let rep = 0; rep < reps; rep++) {
    const dir = join(root, `${label.replace(' ', '')}-${rep}`);
    const plain = join(root, 'plain.bin');
    r['plainW']!.push(await time(() => plainWrite(plain, state)));
    r['plainR']!.push(await time(() => plainRead(plain, state)));
    await rm(plain, { force: true });
    log(
      `[${label}] rep ${rep + 1}: plain write ${(r['plainW']!.at(-1) as number).toFixed(2)} s, read ${(r['plainR']!.at(-1) as number).toFixed(2)} s`,
    );
    const sync = new CheckpointManager(join(dir, 'sync'));
    r['saveS']!.push(await time(() => sync.save(1, comp)));
    const target = { model: new Holder({}) };
    r['restore']!.push(await time(() => sync.restore(target)));
    log(
      `[${label}] rep ${rep + 1}: checkpoint save ${(r['saveS']!.at(-1) as number).toFixed(2)} s, restore+verify ${(r['restore']!.at(-1) as number).toFixed(2)} s`,
    );
    for (const copy of [true, false]) {
      const mgr = new CheckpointManager(join(dir, copy ? 'async' : 'async-nocopy'), {
        async: true,
        copyState: copy,
      });
      const t0 = performance.now();
      await mgr.save(1, comp);
      const blocked = (performance.now() - t0) / 1000;
      await mgr.wait();
      r[copy ? 'asyncBlock' : 'asyncBlockNoCopy']!.push(blocked);
      if (copy) r['asyncTotal']!.push((performance.now() - t0) / 1000);
    }
    log(
      `[${label}] rep ${rep + 1}: async save blocked ${(r['asyncBlock']!.at(-1) as number).toFixed(3)} s (copy), ${(r['asyncBlockNoCopy']!.at(-1) as number).toFixed(3)} s (no copy)`,
    );
    await rm(dir, { recursive: true, force: true });
  }
  const m = (k: string) => median(r[k] as number[]);
  return {
    label,
    plainW: m('plainW'),
    saveS: m('saveS'),
    plainR: m('plainR'),
    restore: m('restore'),
    asyncBlock: m('asyncBlock'),
    asyncBlockNoCopy: m('asyncBlockNoCopy'),
    asyncTotal: m('asyncTotal'),
  };
}

/** `pnpm bench checkpoint [--sizes 100,1000] [--reps 3]` (sizes in MB). */
export async function main(args: string[]): Promise<void> {
  const get = (flag: string) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const sizes = (get('--sizes') ?? '100,1000').split(',').map((s) => Number(s) * MB);
  const reps = Number(get('--reps') ?? '3');
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const root = mkdtempSync(join(tmpdir(), 'x-bench-ckpt-'));
  const rows: Row[] = [];
  try {
    for (const bytes of sizes) rows.push(await benchSize(root, bytes, reps, log));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  const cpu = cpus()[0]?.model ?? 'cpu';
  const load = loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  const out = (s: string) => process.stdout.write(`${s}\n`);
  out(
    `\ncheckpoint benchmark — ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, node ${process.versions.node}, dir ${tmpdir()} (warm page cache), median of ${reps}, load average at the end ${load}`,
  );
  out(
    'save = safetensors + state.json + manifest (SHA-256 of files, state digest), fsync, rename; plain = one fs write of the same bytes + fsync',
  );
  out(
    'restore = read + SHA-256 + structural checks + state digest + setState; plain = fs read of the same bytes into fresh buffers\n',
  );
  const hdr = [
    'state',
    'plain write',
    'ckpt save',
    'save/plain',
    'plain read',
    'restore',
    'restore/plain',
    'async block',
    'block share',
    'no-copy block',
    'share',
  ];
  out(`| ${hdr.join(' | ')} |`);
  out(`|${hdr.map(() => '---').join('|')}|`);
  for (const r of rows) {
    const bytes = r.label.endsWith('GB')
      ? Number(r.label.split(' ')[0]) * 1e9
      : Number(r.label.split(' ')[0]) * MB;
    const rate = (s: number) => `${(bytes / MB / s).toFixed(0)} MB/s`;
    out(
      `| ${[
        r.label,
        `${r.plainW.toFixed(2)} s (${rate(r.plainW)})`,
        `${r.saveS.toFixed(2)} s (${rate(r.saveS)})`,
        `${(r.saveS / r.plainW).toFixed(2)}×`,
        `${r.plainR.toFixed(2)} s (${rate(r.plainR)})`,
        `${r.restore.toFixed(2)} s (${rate(r.restore)})`,
        `${(r.restore / r.plainR).toFixed(2)}×`,
        `${r.asyncBlock.toFixed(3)} s`,
        `${((100 * r.asyncBlock) / r.saveS).toFixed(1)}%`,
        `${r.asyncBlockNoCopy.toFixed(3)} s`,
        `${((100 * r.asyncBlockNoCopy) / r.saveS).toFixed(1)}%`,
      ].join(' | ')} |`,
    );
  }
  out(
    '\nblock share = time `save` blocks the caller with async: true, as a share of a synchronous save (copy: captured state deep-copied; no-copy: copyState: false)',
  );
}
