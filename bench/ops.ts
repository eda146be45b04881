import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
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

/** Builds the inputs once and returns a function running one iteration to completion. */
function prepare(c: Case): { run: () => void; dispose: () => void } {
  const rng = Rng.fromSeed('bench-ops').stream(c.name);
  const keep: tf.Tensor[] = [];
  const mk = (shape: number[], std: number) => {
    const t = randn(rng.stream(keep.length), shape, std);
    keep.push(t);
    return t;
  };
  let run: () => void;
  if (c.kind === 'matMul') {
    const [m, k, n] = c.dims as [number, number, number];
    const a = mk([m, k], 1) as tf.Tensor2D;
    const b = mk([k, n], 1) as tf.Tensor2D;
    run = () => tf.tidy(() => void tf.matMul(a, b).dataSync());
  } else if (c.kind === 'conv2d' || c.kind === 'conv2d-native') {
    const [b, ch] = c.dims as [number, number];
    const x = mk([b, BOARD, BOARD, ch], 1) as tf.Tensor4D;
    const k = mk([3, 3, ch, ch], Math.sqrt(2 / (9 * ch))) as tf.Tensor4D;
    run =
      c.kind === 'conv2d'
        ? () => tf.tidy(() => void conv2d(x, k).dataSync())
        : () => tf.tidy(() => void tf.conv2d(x, k, 1, 'same').dataSync());
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
    run = () =>
      tf.tidy(() => {
        const { grads } = tf.valueAndGrads((...ks: tf.Tensor[]) => {
          const gx = tf.grad((xx: tf.Tensor) => energy(xx, ks))(x);
          return tf.mean(tf.square(tf.sub(gx, target)));
        })(kernels);
        for (const g of grads) g.dataSync();
      });
  }
  return { run, dispose: () => keep.forEach((t) => t.dispose()) };
}

function timeIt(run: () => void, minMs: number, maxIters: number): number {
  const w0 = performance.now();
  run();
  const warm = performance.now() - w0;
  if (warm > 3 * minMs) return warm;
  const times: number[] = [];
  const start = performance.now();
  while (times.length < maxIters && (times.length < 2 || performance.now() - start < minMs)) {
    const t0 = performance.now();
    run();
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
    const python = '/usr/bin/python3';
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

/**
 * `pnpm bench ops [--quick] [--all] [--backends=wasm,cpu] [--min-ms=1500] [--no-peer]`: matMul,
 * conv2d forward and an IRED-like second-order step on each available tfjs backend, against
 * PyTorch on the CPU measured case by case in the same run (interleaved, so both see the same
 * machine load). The slow `cpu` backend runs only the smallest second-order case unless `--all`.
 */
export async function main(args: string[]): Promise<void> {
  const quick = flag(args, 'quick') !== undefined;
  const all = flag(args, 'all') !== undefined;
  const minMs = Number(flag(args, 'min-ms') ?? (quick ? 500 : 1500));
  const list = cases(quick);
  const probes = await probeBackends();
  const wanted = flag(args, 'backends')?.split(',') as BackendName[] | undefined;
  const backends = probes
    .filter((p) => p.available && (wanted === undefined || wanted.includes(p.name)))
    .map((p) => p.name);
  const out = (s: string) => process.stdout.write(`${s}\n`);
  const cpu = cpus();
  out(`ops benchmark: ${cpu[0]?.model ?? 'unknown cpu'} x${cpu.length}, node ${process.version}`);
  for (const p of probes)
    out(`  backend ${p.name}: ${p.available ? 'available' : 'unavailable'} (${p.detail})`);

  const threads = [...new Set([1, cpu.length])];
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
      for (const b of backends) {
        if (
          b === 'cpu' &&
          !all &&
          c.kind === 'second-order' &&
          c !== list.find((x) => x.kind === 'second-order')
        )
          continue;
        await initBackend(b);
        out(`running ${b}: ${c.name} ...`);
        const p = prepare(c);
        try {
          results.set(`${c.name}|${b}`, timeIt(p.run, minMs, 50));
        } finally {
          p.dispose();
        }
      }
    }
  } finally {
    peer?.stop();
  }
  const peerResults = peer === undefined ? undefined : Object.fromEntries(torchResults);

  const torchCols = peerResults === undefined ? [] : threads.map((t) => `torch ${t}t`);
  const header = [
    'case (ms/iter, median)',
    ...backends,
    ...torchCols,
    ...backends.flatMap((b) => threads.filter(() => peerResults).map((t) => `${b}/torch${t}t`)),
  ];
  const rows = list.map((c) => {
    const ours = backends.map((b) => results.get(`${c.name}|${b}`));
    const torch = threads.map((t) => peerResults?.[`${c.name}|${t}`]);
    return [
      c.name,
      ...ours.map(fmt),
      ...(peerResults ? torch.map(fmt) : []),
      ...(peerResults ? ours.flatMap((o) => torch.map((t) => ratio(o, t))) : []),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  out('');
  out(line(header));
  out(
    `|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
  );
  for (const r of rows) out(line(r));
  out('');
  out(
    `second-order step: E(x;θ) = Σ f(x;θ)², f = conv3x3(${DIGITS}→c) → swish → conv3x3(c→c) → swish → conv3x3(c→${DIGITS}) on ${BOARD}x${BOARD} boards; loss = mean((∇ₓE − target)²); timed: loss and dloss/dθ.`,
  );
  out(
    'ratios > 1 mean tfjs is slower than PyTorch measured in this same run; tfjs wasm runs single-threaded.',
  );
}
