import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';

/** The WebGPU adapter a `webgpu` backend runs on (from `GPUAdapter.info`). */
export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU implementation (Mesa llvmpipe/lavapipe, SwiftShader, WARP, or a fallback adapter). */
  software: boolean;
}

/** The outcome of looking for a WebGPU adapter. */
export interface WebgpuSearch {
  available: boolean;
  detail: string;
  adapter?: AdapterInfo;
  packageVersion: string;
}

interface GpuAdapter {
  info?: Record<string, unknown>;
  isFallbackAdapter?: boolean;
  features: Set<string>;
  limits: Record<string, number>;
  requestDevice(descriptor?: object): Promise<unknown>;
}
interface Gpu {
  requestAdapter(options?: object): Promise<GpuAdapter | null>;
}
interface DawnModule {
  create: (flags: string[]) => Gpu;
  globals: Record<string, unknown>;
}

const WEBGPU_PACKAGE = '@tensorflow/tfjs-backend-webgpu';
const SOFTWARE = /llvmpipe|lavapipe|swiftshader|software|microsoft basic render|warp/i;
const WEBGPU_PRIORITY = 3;

let search: Promise<WebgpuSearch> | undefined;

function text(info: Record<string, unknown> | undefined, key: string): string {
  const v = info?.[key];
  return typeof v === 'string' ? v : '';
}

/** Reads `GPUAdapter.info` and decides whether the adapter is a software one. */
export function describeAdapter(adapter: GpuAdapter): AdapterInfo {
  const info = adapter.info;
  const out = {
    vendor: text(info, 'vendor'),
    architecture: text(info, 'architecture'),
    device: text(info, 'device'),
    description: text(info, 'description'),
  };
  const fallback = info?.['isFallbackAdapter'] === true || adapter.isFallbackAdapter === true;
  const named = SOFTWARE.test(Object.values(out).join(' '));
  return { ...out, software: fallback || named };
}

/**
 * Whether this machine may have a GPU worth asking Dawn about: on Linux a DRM render node or an
 * NVIDIA device; elsewhere always. Without one, only a software adapter could turn up.
 */
export function mayHaveGpu(): boolean {
  if (process.platform !== 'linux') return true;
  const has = (dir: string, re: RegExp) => {
    try {
      return readdirSync(dir).some((f) => re.test(f));
    } catch {
      return false;
    }
  };
  return has('/dev/dri', /^renderD\d+$/) || has('/dev', /^(nvidia\d+|dxg)$/);
}

function exposeGpu(dawn: DawnModule, gpu: Gpu): void {
  const g = globalThis as Record<string, unknown>;
  for (const [k, v] of Object.entries(dawn.globals)) if (!(k in g)) g[k] = v;
  g['navigator'] ??= {};
  const nav = g['navigator'] as object;
  Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, writable: true });
}

async function requestDevice(adapter: GpuAdapter): Promise<unknown> {
  const limits = adapter.limits;
  const keys = [
    'maxStorageBuffersPerShaderStage',
    'maxComputeWorkgroupStorageSize',
    'maxComputeWorkgroupsPerDimension',
    'maxStorageBufferBindingSize',
    'maxBufferSize',
    'maxComputeWorkgroupSizeX',
    'maxComputeInvocationsPerWorkgroup',
  ];
  return adapter.requestDevice({
    requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
    requiredLimits: Object.fromEntries(keys.map((k) => [k, limits[k]])),
  });
}

async function searchOnce(resolve: (name: string) => string | undefined): Promise<WebgpuSearch> {
  const dawnEntry = resolve('webgpu');
  const tfjsEntry = resolve(WEBGPU_PACKAGE);
  if (dawnEntry === undefined || tfjsEntry === undefined) {
    const missing = dawnEntry === undefined ? 'webgpu (Dawn for Node)' : WEBGPU_PACKAGE;
    return { available: false, detail: `${missing}: not installed`, packageVersion: 'none' };
  }
  // Imported before navigator.gpu exists, so it registers only its kernels, not its own backend.
  const tfjs = (await import(pathToFileURL(tfjsEntry).href)) as {
    WebGPUBackend: new (device: unknown, info: unknown) => tf.KernelBackend;
  };
  const version = `${WEBGPU_PACKAGE}@${tf.version_core}`;
  let dawn: DawnModule;
  try {
    dawn = (await import(pathToFileURL(dawnEntry).href)) as DawnModule;
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    return {
      available: false,
      detail: `webgpu (Dawn) failed to load: ${msg}`,
      packageVersion: 'none',
    };
  }
  const adapter = await dawn.create([]).requestAdapter({ powerPreference: 'high-performance' });
  if (adapter === null) {
    return {
      available: false,
      detail:
        'no WebGPU adapter (Dawn needs a Vulkan driver; for a software adapter install Mesa >= 25 mesa-vulkan-drivers)',
      packageVersion: 'none',
    };
  }
  const info = describeAdapter(adapter);
  // The adapter search holds no device; the backend asks for its own when first selected.
  tf.registerBackend(
    'webgpu',
    async () => {
      const gpu = dawn.create([]);
      const a = await gpu.requestAdapter({ powerPreference: 'high-performance' });
      if (a === null) throw new Error('the WebGPU adapter went away');
      exposeGpu(dawn, gpu);
      return new tfjs.WebGPUBackend(await requestDevice(a), a.info);
    },
    WEBGPU_PRIORITY,
  );
  const kind = info.software ? 'software' : 'hardware';
  return {
    available: true,
    detail: `${version} on ${info.description || info.device || info.vendor} (${kind} adapter)`,
    adapter: info,
    packageVersion: tf.version_core,
  };
}

/**
 * Looks for a WebGPU adapter through Dawn's Node binding (the `webgpu` package) and, when one is
 * found, registers the `webgpu` backend of `@tensorflow/tfjs-backend-webgpu` on it. Searches at
 * most once per process.
 */
export function searchWebgpu(base: string): Promise<WebgpuSearch> {
  const req = createRequire(base);
  const resolve = (name: string) => {
    try {
      return req.resolve(name);
    } catch {
      return undefined;
    }
  };
  search ??= searchOnce(resolve).catch((err: unknown) => ({
    available: false,
    detail: `webgpu: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
    packageVersion: 'none',
  }));
  return search;
}
