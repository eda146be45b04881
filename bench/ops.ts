import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { Rng } from '../packages/core/src/index.js';
import {
  conv2d,
  initBackend,
  probeBackends,
  swish,
  tf,
  type BackendName,
} from '../packages/tensor/src/index.js';

/** One benchmark case; the PyTorch peer script implements the same names. */
interface Case {
  name: string;
  kind: 'matMul' | 'conv2d' | 'conv2d-native' | 'second-order';
  dims: number[];
}

const SECOND_ORDER: [number, number][] = [
  [16, 64],
  [32, 64],
  [16, 128],
  [32, 128],
];
const BOARD = 9;
const DIGITS = 9;

function cases(quick: boolean): Case[] {
  const out: Case[] = [
    { name: 'matMul 512x512x512', kind: 'matMul', dims: [512, 512, 512] },
    { name: 'matMul 2592x1152x128', kind: 'matMul', dims: [2592, 1152, 128] },
    { name: 'conv2d fwd b16 c64 (@x/tensor)', kind: 'conv2d', dims: [16, 64] },
    { name: 'conv2d fwd b32 c128 (@x/tensor)', kind: 'conv2d', dims: [32, 128] },
    { name: 'conv2d fwd b32 c128 (tf.conv2d)', kind: 'conv2d-native', dims: [32, 128] },
  ];
  for (const [b, c] of quick ? SECOND_ORDER.slice(0, 1) : SECOND_ORDER) {
    out.push({ name: `2nd-order step b${b} c${c}`, kind: 'second-order', dims: [b, c] });
  }
  return out;
}

function randn(rng: Rng, shape: number[], std: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(rng.fillNormal(new Float32Array(n), 0, std), shape);
}

/** Waits for a tensor's values (the only read WebGPU has in Node) and frees it. */
async function settle(t: tf.Tensor): Promise<void> {
  await t.data();
  t.dispose();
}

/** Builds the inputs once and returns a function running one iteration to completion. */
function prepare(c: Case): { run: () => Promise<void>; dispose: () => void } {
  const rng = Rng.fromSeed('bench-ops').stream(c.name);
  const keep: tf.Tensor[] = [];
  const mk = (shape: number[], std: number) => {
    const t = randn(rng.stream(keep.length), shape, std);
    keep.push(t);
    return t;
  };
  let run: () => Promise<void>;
  if (c.kind === 'matMul') {
    const [m, k, n] = c.dims as [number, number, number];
    const a = mk([m, k], 1) as tf.Tensor2D;
    const b = mk([k, n], 1) as tf.Tensor2D;
    run = () => settle(tf.matMul(a, b));
  } else if (c.kind === 'conv2d' || c.kind === 'conv2d-native') {
    const [b, ch] = c.dims as [number, number];
    const x = mk([b, BOARD, BOARD, ch], 1) as tf.Tensor4D;
    const k = mk([3, 3, ch, ch], Math.sqrt(2 / (9 * ch))) as tf.Tensor4D;
    run =
      c.kind === 'conv2d' ? () => settle(conv2d(x, k)) : () => settle(tf.conv2d(x, k, 1, 'same'));
  } else {
    const [b, ch] = c.dims as [number, number];
    const x = mk([b, BOARD, BOARD, DIGITS], 0.5);
    const target = mk([b, BOARD, BOARD, DIGITS], 0.1);
    const kernels = [
      mk([3, 3, DIGITS, ch], Math.sqrt(2 / (9 * DIGITS))),
      mk([3, 3, ch, ch], Math.sqrt(2 / (9 * ch))),
      mk([3, 3, ch, DIGITS], Math.sqrt(2 / (9 * ch))),
    ];
    const energy = (xx: tf.Tensor, ks: tf.Tensor[]) => {
      let h = xx as tf.Tensor4D;
      ks.forEach((k, i) => {
        h = conv2d(h, k as tf.Tensor4D);
        if (i < ks.length - 1) h = swish(h) as tf.Tensor4D;
      });
      return tf.sum(tf.square(h));
    };
    run = async () => {
      const { value, grads } = tf.valueAndGrads((...ks: tf.Tensor[]) => {
        const gx = tf.grad((xx: tf.Tensor) => energy(xx, ks))(x);
        return tf.mean(tf.square(tf.sub(gx, target)));
      })(kernels);
      value.dispose();
      for (const g of grads) await settle(g);
    };
  }
  return { run, dispose: () => keep.forEach((t) => t.dispose()) };
}

async function timeIt(run: () => Promise<void>, minMs: number, maxIters: number): Promise<number> {
  const w0 = performance.now();
  await run();
  const warm = performance.now() - w0;
  if (warm > 3 * minMs) return warm;
  const times: number[] = [];
  const start = performance.now();
  while (times.length < maxIters && (times.length < 2 || performance.now() - start < minMs)) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

const PEER = String.raw`
import json, os, sys, time
try:
    import torch
    import torch.nn.functional as F
except Exception as e:
    print(json.dumps({"error": "torch not importable: %s" % e})); sys.exit(0)
min_ms = float(sys.argv[1]); max_iters = int(sys.argv[2])
torch.manual_seed(0)
def prepare(c):
    kind, dims = c["kind"], c["dims"]
    if kind == "matMul":
        m, k, n = dims; a = torch.randn(m, k); b = torch.randn(k, n)
        return lambda: a @ b
    if kind in ("conv2d", "conv2d-native"):
        b, ch = dims; x = torch.randn(b, ch, 9, 9); w = torch.randn(ch, ch, 3, 3) * (2 / (9 * ch)) ** 0.5
        return lambda: F.conv2d(x, w, padding=1)
    b, ch = dims
    x = (torch.randn(b, 9, 9, 9) * 0.5).requires_grad_(True)
    target = torch.randn(b, 9, 9, 9) * 0.1
    ks = [torch.randn(ch, 9, 3, 3) * (2 / 81) ** 0.5, torch.randn(ch, ch, 3, 3) * (2 / (9 * ch)) ** 0.5,
          torch.randn(9, ch, 3, 3) * (2 / (9 * ch)) ** 0.5]
    for k in ks: k.requires_grad_(True)
    def step():
        h = x
        for i, k in enumerate(ks):
            h = F.conv2d(h, k, padding=1)
            if i < len(ks) - 1: h = F.silu(h)
        e = (h * h).sum()
        gx, = torch.autograd.grad(e, x, create_graph=True)
        loss = ((gx - target) ** 2).mean()
        return torch.autograd.grad(loss, ks)
    return step
def time_it(run):
    run(); times = []; start = time.perf_counter()
    while len(times) < max_iters and (len(times) < 2 or (time.perf_counter() - start) * 1000 < min_ms):
        t0 = time.perf_counter(); run(); times.append((time.perf_counter() - t0) * 1000)
        if len(times) == 1 and times[0] > min_ms: break
    times.sort(); return times[len(times) // 2]
import re
blas = re.search(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())
print(json.dumps({"version": torch.__version__, "blas": blas.group(1) if blas else "unknown"}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    torch.set_num_threads(req["threads"])
    print(json.dumps({"ms": time_it(prepare(req["case"]))}), flush=True)
`;

/** A long-lived PyTorch process timing one case per request, so both sides share the load. */
class Peer {
  readonly version: string;
  blas = 'unknown';
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: AsyncIterator<string>;
  readonly #dir: string;

  private constructor(
    child: ChildProcessWithoutNullStreams,
    lines: AsyncIterator<string>,
    version: string,
    dir: string,
  ) {
    this.#child = child;
    this.#lines = lines;
    this.version = version;
    this.#dir = dir;
  }

  static async start(minMs: number): Promise<Peer | string> {
    const python = process.env['X_BENCH_PYTHON'] ?? '/usr/bin/python3';
    const dir = mkdtempSync(join(tmpdir(), 'bench-ops-'));
    const script = join(dir, 'peer.py');
    writeFileSync(script, PEER);
    const child = spawn(python, [script, String(minMs), '50'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const failed = new Promise<string>((resolve) => {
      child.on('error', (e) => resolve(`${python} not runnable: ${e.message}`));
    });
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const first = await Promise.race([
      lines.next().then((r) => (r.done ? undefined : r.value)),
      failed,
    ]);
    const hello =
      first === undefined
        ? undefined
        : (JSON.parse(first) as { version?: string; error?: string; blas?: string });
    if (hello?.version === undefined) {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
      return (
        hello?.error ??
        (typeof first === 'string'
          ? first
          : `peer exited: ${stderr.trim().split('\n').pop() ?? ''}`)
      );
    }
    const peer = new Peer(child, lines, hello.version, dir);
    peer.blas = hello.blas ?? 'unknown';
    return peer;
  }

  async time(c: Case, threads: number): Promise<number | undefined> {
    this.#child.stdin.write(`${JSON.stringify({ case: c, threads })}\n`);
    const r = await this.#lines.next();
    if (r.done === true) return undefined;
    return (JSON.parse(r.value) as { ms: number }).ms;
  }

  stop(): void {
    this.#child.stdin.end();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

function flag(args: string[], name: string): string | undefined {
  const hit = args.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (hit === undefined) return undefined;
  return hit.includes('=') ? hit.slice(hit.indexOf('=') + 1) : 'true';
}

function fmt(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !(b > 0)) return '-';
  return `${(a / b).toFixed(1)}x`;
}

/** A column of the table: a tfjs backend, wasm at a thread count. */
interface Engine {
  label: string;
  backend: BackendName;
  threads?: number;
}

/**
 * `pnpm bench ops [--quick] [--all] [--threads=1,2,4] [--webgpu] [--min-ms=1500] [--no-peer]`:
 * matMul, conv2d forward and an IRED-like second-order step on wasm at 1, 2 and all threads (or
 * `--threads`), on webgpu when there is an adapter (a software one only with `--webgpu`) and on
 * cpu, against PyTorch on the CPU at the same thread counts, measured case by case in the same run
 * (interleaved, so all see the same machine load). The slow `cpu` backend runs only the smallest
 * second-order case unless `--all`. Prints peak RSS.
 */
export async function main(args: string[]): Promise<void> {
  const quick = flag(args, 'quick') !== undefined;
  const all = flag(args, 'all') !== undefined;
  const minMs = Number(flag(args, 'min-ms') ?? (quick ? 500 : 1500));
  const list = cases(quick);
  const forceGpu = flag(args, 'webgpu') !== undefined;
  const probes = await probeBackends({ searchAdapters: forceGpu });
  const cores = availableParallelism();
  const threads = flag(args, 'threads')?.split(',').map(Number) ?? [...new Set([1, 2, cores])];
  const engines: Engine[] = [];
  if (probes.find((p) => p.name === 'wasm')?.available === true)
    for (const t of threads) engines.push({ label: `wasm ${t}t`, backend: 'wasm', threads: t });
  const gpu = probes.find((p) => p.name === 'webgpu');
  if (gpu?.available === true && (forceGpu || gpu.adapter?.software === false))
    engines.push({
      label: gpu.adapter?.software === true ? 'webgpu(sw)' : 'webgpu',
      backend: 'webgpu',
    });
  engines.push({ label: 'cpu', backend: 'cpu' });
  const out = (s: string) => process.stdout.write(`${s}\n`);
  const cpu = cpus();
  const load = () =>
    loadavg()
      .map((x) => x.toFixed(1))
      .join(' ');
  out(
    `ops benchmark: ${cpu[0]?.model ?? 'unknown cpu'} x${cores}, node ${process.version}, load average ${load()}`,
  );
  for (const p of probes)
    out(`  backend ${p.name}: ${p.available ? 'available' : 'unavailable'} (${p.detail})`);

  let peer: Peer | undefined;
  if (flag(args, 'no-peer') === undefined) {
    const started = await Peer.start(minMs);
    if (typeof started === 'string') out(`  PyTorch peer skipped: ${started}`);
    else {
      peer = started;
      out(
        `  PyTorch peer: torch ${peer.version} on CPU (BLAS ${peer.blas}, convolutions by oneDNN), threads ${threads.join(', ')}`,
      );
      if (peer.blas === 'generic') {
        out(
          '  note: generic BLAS means torch matMul runs through libblas.so.3, the reference BLAS unless an optimized one (e.g. libopenblas0) is installed as the alternative: its matMul numbers are a weak peer.',
        );
      }
    }
  } else out('  PyTorch peer skipped (--no-peer)');

  const results = new Map<string, number>();
  const torchResults = new Map<string, number>();
  try {
    for (const c of list) {
      for (const t of peer === undefined ? [] : threads) {
        out(`running torch ${t}t: ${c.name} ...`);
        const ms = await peer?.time(c, t);
        if (ms !== undefined) torchResults.set(`${c.name}|${t}`, ms);
      }
      for (const e of engines) {
        if (
          e.backend === 'cpu' &&
          !all &&
          (c.kind !== 'second-order' || c !== list.find((x) => x.kind === 'second-order'))
        )
          continue;
        await initBackend({
          backend: e.backend,
          ...(e.threads === undefined ? {} : { threads: e.threads }),
        });
        out(`running ${e.label}: ${c.name} ...`);
        const p = prepare(c);
        try {
          results.set(`${c.name}|${e.label}`, await timeIt(p.run, minMs, 50));
        } finally {
          p.dispose();
        }
      }
    }
  } finally {
    peer?.stop();
  }

  const torchCols = peer === undefined ? [] : threads.map((t) => `torch ${t}t`);
  // Each wasm column against torch at the same threads; webgpu and cpu against torch at all threads.
  const peerOf = (e: Engine) => (e.threads !== undefined ? e.threads : threads[threads.length - 1]);
  const header = [
    'case (ms/iter, median)',
    ...engines.map((e) => e.label),
    ...torchCols,
    ...(peer === undefined ? [] : engines.map((e) => `${e.label}/torch${peerOf(e)}t`)),
  ];
  const rows = list.map((c) => [
    c.name,
    ...engines.map((e) => fmt(results.get(`${c.name}|${e.label}`))),
    ...(peer === undefined ? [] : threads.map((t) => fmt(torchResults.get(`${c.name}|${t}`)))),
    ...(peer === undefined
      ? []
      : engines.map((e) =>
          ratio(results.get(`${c.name}|${e.label}`), torchResults.get(`${c.name}|${peerOf(e)}`)),
        )),
  ]);
  const scaling = threads.length > 1 && engines.length > 1;
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  out('');
  out(line(header));
  out(
    `|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
  );
  for (const r of rows) out(line(r));
  if (scaling) {
    out('');
    const base = engines[0]?.label ?? '';
    for (const e of engines.filter((x) => x.backend === 'wasm' && x.label !== base)) {
      const sc = list.map((c) =>
        ratio(results.get(`${c.name}|${base}`), results.get(`${c.name}|${e.label}`)),
      );
      out(
        `thread scaling ${base} -> ${e.label}: ${list.map((c, i) => `${c.name} ${sc[i]}`).join('; ')}`,
      );
    }
  }
  out('');
  out(
    `second-order step: E(x;θ) = Σ f(x;θ)², f = conv3x3(${DIGITS}→c) → swish → conv3x3(c→c) → swish → conv3x3(c→${DIGITS}) on ${BOARD}x${BOARD} boards; loss = mean((∇ₓE − target)²); timed: loss and dloss/dθ.`,
  );
  out(
    `ratios > 1 mean tfjs is slower than PyTorch measured in this same run. Peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB (tfjs process); load average at the end ${load()}.`,
  );
}
