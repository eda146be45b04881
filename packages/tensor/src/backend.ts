import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { version_cpu } from '@tensorflow/tfjs-backend-cpu';
import { XError } from '@x/core';
import './registerGradients.js';
import { registerWasm, wasmOutDir } from './wasmThreads.js';
import { mayHaveGpu, searchWebgpu, type AdapterInfo } from './webgpu.js';

/**
 * A tfjs backend this package can run on, fastest first: native TensorFlow, WebGPU (Dawn),
 * WebAssembly, plain JS.
 */
export type BackendName = 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
/** What the caller asks for: `auto` picks the first available in priority order. */
export type BackendRequest = 'auto' | BackendName;

/** A backend request with its settings. */
export interface BackendOptions {
  /** Default `auto`. */
  backend?: BackendRequest;
  /**
   * Threads of the `wasm` backend's XNNPACK pool (1 = the single-threaded SIMD build; at most 8).
   * Default: the `X_THREADS` environment variable, else `os.availableParallelism()`. Results are
   * bitwise identical for every thread count (tested), so runs and replays do not depend on it.
   */
  threads?: number;
}

/** Whether a backend can be used here; `detail` is the package and version, or why not. */
export interface BackendProbe {
  name: BackendName;
  available: boolean;
  detail: string;
  /** The WebGPU adapter found (webgpu only). */
  adapter?: AdapterInfo;
}

/** The backend in use, as reported by `runner doctor` and run metadata. */
export interface BackendInfo {
  name: BackendName;
  requested: BackendRequest;
  tfjsVersion: string;
  packageName: string;
  packageVersion: string;
  /** Threads the backend computes with, where this package sets them (wasm: the XNNPACK pool; cpu: 1). */
  threads?: number;
  /** The WebGPU adapter (webgpu only). */
  adapter?: AdapterInfo;
  probes: BackendProbe[];
}

/** Backend names in priority order. */
export const BACKEND_NAMES: readonly BackendName[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];

const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;
const WASM_PACKAGE = '@tensorflow/tfjs-backend-wasm';

interface Loaded {
  probe: BackendProbe;
  packageName: string;
  packageVersion: string;
}

let probing: Promise<Loaded[]> | undefined;
let current: BackendInfo | undefined;
let currentThreads: number | undefined;
let wasmModule: WasmPackage | undefined;
let wasmOut = '';

interface WasmPackage {
  setWasmPaths: (prefix: string) => void;
  version_wasm: string;
  BackendWasm: new (module: unknown) => tf.KernelBackend;
  setThreadsCount: (n: number) => void;
  getThreadsCount: () => number;
}
let switching: Promise<unknown> = Promise.resolve();

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return (msg.split('\n')[0] ?? msg).trim();
}

function isNotFound(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

function packageVersionAt(entry: string, name: string): string {
  let dir = dirname(entry);
  const req = createRequire(entry);
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = req(join(dir, 'package.json')) as { name?: string; version?: string };
      if (pkg.name === name) return pkg.version ?? 'unknown';
    } catch {
      // keep walking up
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

function resolveFrom(base: string, name: string): string | undefined {
  try {
    return createRequire(base).resolve(name);
  } catch {
    return undefined;
  }
}

async function loadNative(): Promise<Loaded> {
  const reasons: string[] = [];
  for (const name of NATIVE_PACKAGES) {
    const entry =
      resolveFrom(import.meta.url, name) ?? resolveFrom(join(process.cwd(), 'noop.js'), name);
    if (entry === undefined) {
      reasons.push(`${name}: not installed`);
      continue;
    }
    try {
      await import(pathToFileURL(entry).href);
      if (tf.findBackendFactory('tensorflow') === null) {
        reasons.push(`${name}: loaded but registered no 'tensorflow' backend (second tfjs-core?)`);
        continue;
      }
      const version = packageVersionAt(entry, name);
      const skipped = reasons.length === 0 ? '' : ` (${reasons.join('; ')})`;
      return {
        probe: { name: 'tensorflow', available: true, detail: `${name}@${version}${skipped}` },
        packageName: name,
        packageVersion: version,
      };
    } catch (err) {
      reasons.push(
        `${name}: ${isNotFound(err) ? 'not installed' : `failed to load: ${firstLine(err)}`}`,
      );
    }
  }
  return {
    probe: { name: 'tensorflow', available: false, detail: reasons.join('; ') },
    packageName: NATIVE_PACKAGES[1],
    packageVersion: 'none',
  };
}

async function withoutNewProcessHandlers<T>(fn: () => Promise<T>): Promise<T> {
  const exceptions = new Set(process.listeners('uncaughtException'));
  const rejections = new Set(process.listeners('unhandledRejection'));
  try {
    return await fn();
  } finally {
    for (const l of process.listeners('uncaughtException')) {
      if (!exceptions.has(l)) process.removeListener('uncaughtException', l);
    }
    for (const l of process.listeners('unhandledRejection')) {
      if (!rejections.has(l)) process.removeListener('unhandledRejection', l);
    }
  }
}

async function loadWasm(): Promise<Loaded> {
  const fail = (detail: string): Loaded => ({
    probe: { name: 'wasm', available: false, detail },
    packageName: WASM_PACKAGE,
    packageVersion: 'none',
  });
  if (typeof (globalThis as { WebAssembly?: unknown }).WebAssembly !== 'object')
    return fail('WebAssembly is not available in this runtime');
  const entry = resolveFrom(import.meta.url, WASM_PACKAGE);
  if (entry === undefined) return fail(`${WASM_PACKAGE}: not installed`);
  try {
    const mod = (await import(pathToFileURL(entry).href)) as WasmPackage;
    mod.setWasmPaths(`${dirname(entry)}/`);
    wasmModule = mod;
    wasmOut = wasmOutDir(entry);
    const previous = tf.getBackend() as string | undefined;
    const ok = await withoutNewProcessHandlers(() => tf.setBackend('wasm'));
    if (previous != null && previous !== 'wasm') await tf.setBackend(previous);
    if (!ok) return fail(`${WASM_PACKAGE}@${mod.version_wasm}: initialization failed`);
    return {
      probe: { name: 'wasm', available: true, detail: `${WASM_PACKAGE}@${mod.version_wasm}` },
      packageName: WASM_PACKAGE,
      packageVersion: mod.version_wasm,
    };
  } catch (err) {
    return fail(`${WASM_PACKAGE}: ${firstLine(err)}`);
  }
}

function loadCpu(): Loaded {
  return {
    probe: { name: 'cpu', available: true, detail: `@tensorflow/tfjs-backend-cpu@${version_cpu}` },
    packageName: '@tensorflow/tfjs-backend-cpu',
    packageVersion: version_cpu,
  };
}

function quietCpu(): void {
  const backend = tf.findBackend('cpu') as { firstUse?: boolean } | null;
  if (backend !== null && 'firstUse' in backend) backend.firstUse = false;
}

async function loadAll(): Promise<Loaded[]> {
  if (tf.findBackendFactory('cpu') === null) {
    throw new XError(
      'INTERNAL',
      'the cpu backend of @tensorflow/tfjs-backend-cpu did not register',
    );
  }
  quietCpu();
  const native = await loadNative();
  const wasm = await loadWasm();
  return [native, wasm, loadCpu()];
}

function probesOnce(): Promise<Loaded[]> {
  probing ??= loadAll();
  return probing;
}

async function loadWebgpu(search: boolean): Promise<Loaded> {
  const found =
    search || mayHaveGpu()
      ? await searchWebgpu(import.meta.url)
      : {
          available: false,
          detail:
            'no GPU device (/dev/dri/renderD*, /dev/nvidia*) to search; --backend webgpu also looks for a software adapter',
          packageVersion: 'none',
        };
  return {
    probe: {
      name: 'webgpu',
      available: found.available,
      detail: found.detail,
      ...('adapter' in found && found.adapter !== undefined ? { adapter: found.adapter } : {}),
    },
    packageName: '@tensorflow/tfjs-backend-webgpu',
    packageVersion: found.packageVersion,
  };
}

/** Every backend in priority order; `searchWebgpu` asks Dawn for an adapter even without a GPU device. */
async function loadedBackends(searchAdapters: boolean): Promise<Loaded[]> {
  const [native, wasm, cpu] = (await probesOnce()) as [Loaded, Loaded, Loaded];
  return [native, await loadWebgpu(searchAdapters), wasm, cpu];
}

/**
 * Finds which backends can run here (loading each at most once per process). Never throws for a
 * missing backend: the probe says why it is unavailable. On Linux without a GPU device node,
 * WebGPU adapters are searched for only with `{ searchAdapters: true }` (a software adapter may
 * then turn up).
 */
export async function probeBackends(
  options: { searchAdapters?: boolean } = {},
): Promise<BackendProbe[]> {
  return (await loadedBackends(options.searchAdapters ?? false)).map((l) => ({ ...l.probe }));
}

/** The backend chosen by the last {@link initBackend}, or undefined before the first call. */
export function currentBackend(): BackendInfo | undefined {
  return current === undefined
    ? undefined
    : {
        ...current,
        ...(current.adapter === undefined ? {} : { adapter: { ...current.adapter } }),
        probes: current.probes.map((p) => ({ ...p })),
      };
}

/** The thread count of a request: the option, else `X_THREADS`, else every available core. */
function resolveThreads(threads: number | undefined): number {
  if (threads !== undefined) {
    if (!Number.isSafeInteger(threads) || threads < 1)
      throw new XError('INVALID_INPUT', `threads: expected a positive integer, got ${threads}`);
    return threads;
  }
  const env = process.env['X_THREADS'];
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!/^\d+$/.test(env.trim()) || !Number.isSafeInteger(n) || n < 1)
      throw new XError('INVALID_INPUT', `X_THREADS: expected a positive integer, got '${env}'`);
    return n;
  }
  return availableParallelism();
}

function threadsOf(name: BackendName): number | undefined {
  if (name === 'cpu') return 1;
  if (name === 'wasm') return wasmModule?.getThreadsCount();
  return undefined;
}

async function select(request: BackendRequest, threadsOption?: number): Promise<BackendInfo> {
  if (!(request === 'auto' || BACKEND_NAMES.includes(request))) {
    throw new XError(
      'INVALID_INPUT',
      `unknown backend '${String(request)}' (expected auto, ${BACKEND_NAMES.join(', ')})`,
    );
  }
  const threads = resolveThreads(threadsOption);
  if (
    current !== undefined &&
    current.requested === request &&
    currentThreads === threads &&
    tf.getBackend() === current.name
  ) {
    return currentBackend() as BackendInfo;
  }
  const loaded = await loadedBackends(request === 'webgpu');
  const probes = loaded.map((l) => ({ ...l.probe }));
  // auto takes a WebGPU adapter only when it is hardware: a software one is slower than wasm.
  const candidates =
    request === 'auto'
      ? loaded.filter((l) => l.probe.available && l.probe.adapter?.software !== true)
      : loaded.filter((l) => l.probe.name === request);
  const chosen = candidates[0];
  if (chosen === undefined || !chosen.probe.available) {
    const why = chosen?.probe.detail ?? 'no backend available';
    throw new XError('INVALID_INPUT', `backend '${request}' is not available: ${why}`, {
      details: { probes },
    });
  }
  if (chosen.probe.name === 'wasm' && wasmModule !== undefined) {
    registerWasm(wasmModule, wasmOut, threads);
  }
  const ok = await withoutNewProcessHandlers(() => tf.setBackend(chosen.probe.name));
  if (!ok) {
    throw new XError('ENVIRONMENT', `backend '${chosen.probe.name}' failed to initialize`, {
      details: { probes },
    });
  }
  await tf.ready();
  if (chosen.probe.name === 'cpu') quietCpu();
  const actual = threadsOf(chosen.probe.name);
  current = {
    name: chosen.probe.name,
    requested: request,
    tfjsVersion: tf.version_core,
    packageName: chosen.packageName,
    packageVersion: chosen.packageVersion,
    ...(actual === undefined ? {} : { threads: actual }),
    ...(chosen.probe.adapter === undefined ? {} : { adapter: { ...chosen.probe.adapter } }),
    probes,
  };
  currentThreads = threads;
  return currentBackend() as BackendInfo;
}

/**
 * Selects and initializes the tfjs backend, then awaits `tf.ready()`. `auto` (the default) takes
 * the first available of `tensorflow` (`@tensorflow/tfjs-node-gpu`, then `@tensorflow/tfjs-node`,
 * resolved from this package or from the current directory), `wasm`, `cpu`. The `wasm` backend
 * uses every available core unless `threads` (or `X_THREADS`) says otherwise. Idempotent; calling
 * it again with another request switches backends. Throws `INVALID_INPUT` when a forced backend
 * is unavailable, naming the reason, or when the wasm thread count would change while tensors
 * live on the wasm backend.
 *
 * @example
 * const info = await initBackend({ backend: 'wasm', threads: 2 });
 * log(`backend ${info.name} (${info.packageName}@${info.packageVersion}), ${info.threads} threads`);
 */
export async function initBackend(
  request: BackendRequest | BackendOptions = 'auto',
): Promise<BackendInfo> {
  const opts = typeof request === 'string' ? { backend: request } : request;
  const run = switching.then(() => select(opts.backend ?? 'auto', opts.threads));
  switching = run.catch(() => undefined);
  return run;
}

/**
 * Runs `fn` with `backend` active (at the current thread count), then restores the previous
 * backend. Used by self-checks and benchmarks that visit every available backend.
 */
export async function withBackend<T>(backend: BackendName, fn: () => T | Promise<T>): Promise<T> {
  const before = current;
  const threads = currentThreads;
  await initBackend({ backend, threads });
  try {
    return await fn();
  } finally {
    if (before !== undefined) await initBackend({ backend: before.requested, threads });
  }
}
