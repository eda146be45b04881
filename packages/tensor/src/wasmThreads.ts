import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { XError } from '@x/core';
import { overrideWasmKernels } from './wasmKernels.js';

/**
 * The most threads the threaded build's XNNPACK pool takes: its C++ side caps the pool at 8 (the
 * size of emscripten's pre-started worker pool).
 */
export const MAX_WASM_THREADS = 8;

const THREADED = 'tfjs-backend-wasm-threaded-simd';
const WASM_PRIORITY = 2;

interface EmscriptenWorker {
  unref(): void;
}

interface EmscriptenModule {
  cwrap: (name: string, ret: string | null, args: string[]) => (...a: number[]) => number;
  PThread: { runningWorkers: EmscriptenWorker[]; unusedWorkers: EmscriptenWorker[] };
  tfjs?: Record<string, unknown>;
}

interface WasmPackage {
  BackendWasm: new (module: unknown) => tf.KernelBackend;
  setThreadsCount: (n: number) => void;
  getThreadsCount: () => number;
}

interface Instantiated {
  instance: unknown;
  module: unknown;
}
const wasmApi = (
  globalThis as unknown as {
    WebAssembly: { instantiate: (bytes: Uint8Array, imports: object) => Promise<Instantiated> };
  }
).WebAssembly;

type Factory = (config: Record<string, unknown>) => Promise<EmscriptenModule>;

let stockFactory: (() => tf.KernelBackend | Promise<tf.KernelBackend>) | undefined;
let registeredThreads = 1;

/**
 * emscripten starts pthreads with `new Worker(url)`. tfjs hands it a `blob:` URL of the worker
 * script, which Node's Worker refuses; the package also ships that script, but only as a JS
 * string export. Written once to a real file named by its content hash.
 */
function workerFile(wasmOut: string): string {
  const req = createRequire(join(wasmOut, 'x.js'));
  const { wasmWorkerContents } = req(`./${THREADED}.worker.js`) as { wasmWorkerContents: string };
  // The string came out of a template literal, so its `\n` escapes are real newlines again.
  const source = wasmWorkerContents.replace(/\n/g, '\\n');
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const file = join(tmpdir(), `x-tensor-wasm-pthread-${hash}.cjs`);
  if (!existsSync(file)) {
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, source);
    renameSync(tmp, file);
  }
  return file;
}

async function threadedModule(wasmOut: string, threads: number): Promise<EmscriptenModule> {
  const req = createRequire(join(wasmOut, 'x.js'));
  const factory = req(`./${THREADED}.js`) as Factory;
  const worker = workerFile(wasmOut);
  const binary = readFileSync(join(wasmOut, `${THREADED}.wasm`));
  let fail: (err: unknown) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  // emscripten creates its workers with `new Worker(file)` while the factory runs, and a Worker
  // inherits the parent's execArgv (`--import tsx`, `--input-type`…), which its plain script does
  // not need and may not accept. It takes `Worker` from require('worker_threads') then.
  const threadsApi = createRequire(import.meta.url)('node:worker_threads') as {
    Worker: new (file: string, options?: { execArgv?: string[] }) => object;
  };
  const NodeWorker = threadsApi.Worker;
  threadsApi.Worker = class extends NodeWorker {
    constructor(file: string, options?: { execArgv?: string[] }) {
      super(file, { ...options, execArgv: [] });
    }
  };
  let starting: Promise<EmscriptenModule>;
  try {
    starting = factory({
      locateFile: (path: string) => (path.endsWith('.worker.js') ? worker : join(wasmOut, path)),
      mainScriptUrlOrBlob: join(wasmOut, `${THREADED}.js`),
      // XNNPACK sizes its pool from min(requested, logical cores / 2), computed once when the module
      // starts (it assumes two hyperthreads per core). Report 2 × threads so the request decides.
      instantiateWasm: (
        info: { env: Record<string, unknown> },
        receive: (instance: unknown, module: unknown) => void,
      ) => {
        info.env['emscripten_num_logical_cores'] = () => 2 * threads;
        wasmApi.instantiate(binary, info).then((r) => receive(r.instance, r.module), fail);
        return {};
      },
    });
  } finally {
    threadsApi.Worker = NodeWorker;
  }
  const mod = await Promise.race([starting, failed]);
  mod.tfjs = {
    init: mod.cwrap('init', null, []),
    initWithThreadsCount: mod.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: mod.cwrap('get_threads_count', 'number', []),
    registerTensor: mod.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: mod.cwrap('dispose_data', null, ['number']),
    dispose: mod.cwrap('dispose', null, []),
  };
  return mod;
}

function liveTensors(): number {
  const registry = (tf.engine() as unknown as { registry: Record<string, tf.KernelBackend> })
    .registry;
  return registry['wasm']?.numDataIds() ?? 0;
}

/**
 * Registers the `wasm` backend with `threads` XNNPACK threads: 1 is tfjs's own single-threaded
 * SIMD build; more loads the threaded-SIMD build with its pthread workers started from a real
 * file. A change of thread count replaces the backend, so it is refused while tensors live on it.
 * Returns the thread count asked of the pool (capped at {@link MAX_WASM_THREADS}).
 */
export function registerWasm(pkg: WasmPackage, wasmOut: string, threads: number): number {
  const wanted = Math.min(Math.max(1, Math.floor(threads)), MAX_WASM_THREADS);
  stockFactory ??= tf.findBackendFactory('wasm') ?? undefined;
  if (stockFactory === undefined)
    throw new XError('ENVIRONMENT', '@tensorflow/tfjs-backend-wasm registered no wasm backend');
  overrideWasmKernels();
  if (wanted === registeredThreads && tf.findBackendFactory('wasm') !== null) return wanted;
  const live = liveTensors();
  if (live > 0) {
    throw new XError(
      'INVALID_INPUT',
      `cannot change the wasm backend from ${registeredThreads} to ${wanted} threads while ${live} tensors live on it; dispose them first`,
    );
  }
  if (tf.findBackendFactory('wasm') !== null) tf.removeBackend('wasm');
  const stock = stockFactory;
  const factory =
    wanted === 1
      ? stock
      : async () => {
          const mod = await threadedModule(wasmOut, wanted);
          pkg.setThreadsCount(wanted);
          const backend = new pkg.BackendWasm(mod);
          // Pool threads keep their workers referenced; the main thread waits on them
          // synchronously, so unreferenced workers still run and the process can exit.
          for (const w of [...mod.PThread.runningWorkers, ...mod.PThread.unusedWorkers]) w.unref();
          return backend;
        };
  tf.registerBackend('wasm', factory, WASM_PRIORITY);
  registeredThreads = wanted;
  return wanted;
}

/** The `wasm-out` folder of the installed `@tensorflow/tfjs-backend-wasm` (entry: its main file). */
export function wasmOutDir(entry: string): string {
  return join(dirname(dirname(entry)), 'wasm-out');
}
