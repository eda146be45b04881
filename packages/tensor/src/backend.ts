import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { version_cpu } from '@tensorflow/tfjs-backend-cpu';
import { XError } from '@x/core';
import './registerGradients.js';

/** A tfjs backend this package can run on, fastest first: native TensorFlow, WebAssembly, plain JS. */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
/** What the caller asks for: `auto` picks the first available in priority order. */
export type BackendRequest = 'auto' | BackendName;

/** Whether a backend can be used here; `detail` is the package and version, or why not. */
export interface BackendProbe {
  name: BackendName;
  available: boolean;
  detail: string;
}

/** The backend in use, as reported by `runner doctor` and run metadata. */
export interface BackendInfo {
  name: BackendName;
  requested: BackendRequest;
  tfjsVersion: string;
  packageName: string;
  packageVersion: string;
  probes: BackendProbe[];
}

/** Backend names in priority order. */
export const BACKEND_NAMES: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;
const WASM_PACKAGE = '@tensorflow/tfjs-backend-wasm';

interface Loaded {
  probe: BackendProbe;
  packageName: string;
  packageVersion: string;
}

let probing: Promise<Loaded[]> | undefined;
let current: BackendInfo | undefined;
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
    const mod = (await import(pathToFileURL(entry).href)) as {
      setWasmPaths: (prefix: string) => void;
      version_wasm: string;
    };
    mod.setWasmPaths(`${dirname(entry)}/`);
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

/**
 * Finds which backends can run here (loading each at most once per process). Never throws for a
 * missing backend: the probe says why it is unavailable.
 */
export async function probeBackends(): Promise<BackendProbe[]> {
  return (await probesOnce()).map((l) => ({ ...l.probe }));
}

/** The backend chosen by the last {@link initBackend}, or undefined before the first call. */
export function currentBackend(): BackendInfo | undefined {
  return current === undefined
    ? undefined
    : { ...current, probes: current.probes.map((p) => ({ ...p })) };
}

async function select(request: BackendRequest): Promise<BackendInfo> {
  if (!(request === 'auto' || BACKEND_NAMES.includes(request))) {
    throw new XError(
      'INVALID_INPUT',
      `unknown backend '${String(request)}' (expected auto, ${BACKEND_NAMES.join(', ')})`,
    );
  }
  if (current !== undefined && current.requested === request && tf.getBackend() === current.name) {
    return currentBackend() as BackendInfo;
  }
  const loaded = await probesOnce();
  const probes = loaded.map((l) => ({ ...l.probe }));
  const candidates =
    request === 'auto'
      ? loaded.filter((l) => l.probe.available)
      : loaded.filter((l) => l.probe.name === request);
  const chosen = candidates[0];
  if (chosen === undefined || !chosen.probe.available) {
    const why = chosen?.probe.detail ?? 'no backend available';
    throw new XError('INVALID_INPUT', `backend '${request}' is not available: ${why}`, {
      details: { probes },
    });
  }
  const ok = await tf.setBackend(chosen.probe.name);
  if (!ok) {
    throw new XError('ENVIRONMENT', `backend '${chosen.probe.name}' failed to initialize`, {
      details: { probes },
    });
  }
  await tf.ready();
  if (chosen.probe.name === 'cpu') quietCpu();
  current = {
    name: chosen.probe.name,
    requested: request,
    tfjsVersion: tf.version_core,
    packageName: chosen.packageName,
    packageVersion: chosen.packageVersion,
    probes,
  };
  return currentBackend() as BackendInfo;
}

/**
 * Selects and initializes the tfjs backend, then awaits `tf.ready()`. `auto` (the default) takes
 * the first available of `tensorflow` (`@tensorflow/tfjs-node-gpu`, then `@tensorflow/tfjs-node`,
 * resolved from this package or from the current directory), `wasm`, `cpu`. Idempotent; calling
 * it again with another request switches backends. Throws `INVALID_INPUT` when a forced backend
 * is unavailable, naming the reason.
 *
 * @example
 * const info = await initBackend(process.env.X_BACKEND as BackendRequest | undefined);
 * log(`backend ${info.name} (${info.packageName}@${info.packageVersion})`);
 */
export async function initBackend(request: BackendRequest = 'auto'): Promise<BackendInfo> {
  const run = switching.then(() => select(request));
  switching = run.catch(() => undefined);
  return run;
}

/**
 * Runs `fn` with `backend` active, then restores the previous backend. Used by self-checks and
 * benchmarks that visit every available backend.
 */
export async function withBackend<T>(backend: BackendName, fn: () => T | Promise<T>): Promise<T> {
  const before = current;
  await initBackend(backend);
  try {
    return await fn();
  } finally {
    if (before !== undefined) await initBackend(before.requested);
  }
}
