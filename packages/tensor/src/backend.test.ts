import * as tf from '@tensorflow/tfjs-core';
import { isXError } from '@x/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { currentBackend, initBackend, probeBackends, withBackend } from './backend.js';

describe('backend selection', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('uses cpu without printing the tfjs-node nag', async () => {
    const warn = vi.spyOn(console, 'warn');
    const log = vi.spyOn(console, 'log');
    const info = await initBackend('cpu');
    expect(info.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    tf.add(tf.tensor([1, 2]), 1).dataSync();
    const printed = [...warn.mock.calls, ...log.mock.calls].flat().join('\n');
    expect(printed).not.toMatch(/tfjs-node|Hi, looks like/);
  });

  it('probes every backend in priority order and says why one is unavailable', async () => {
    const probes = await probeBackends();
    expect(probes.map((p) => p.name)).toEqual(['tensorflow', 'webgpu', 'wasm', 'cpu']);
    const cpu = probes[3];
    expect(cpu?.available).toBe(true);
    expect(cpu?.detail).toMatch(/^@tensorflow\/tfjs-backend-cpu@4\.22\.0$/);
    const native = probes[0];
    if (native?.available === false) {
      expect(native.detail).toMatch(/tfjs-node-gpu: (not installed|failed to load)/);
      expect(native.detail).toMatch(/tfjs-node: (not installed|failed to load)/);
    }
  });

  it('auto picks the first available backend and reports it', async () => {
    const probes = await probeBackends();
    const expected = probes.find((p) => p.available)?.name;
    const info = await initBackend('auto');
    expect(info.name).toBe(expected);
    expect(info.requested).toBe('auto');
    expect(info.tfjsVersion).toBe('4.22.0');
    expect(info.packageVersion).not.toBe('none');
    expect(currentBackend()).toEqual(info);
    expect(await initBackend('auto')).toEqual(info);
  });

  it('wasm initializes from the npm package and leaves no process-wide error handlers', async () => {
    const probes = await probeBackends();
    const wasm = probes.find((p) => p.name === 'wasm');
    expect(wasm?.available, wasm?.detail).toBe(true);
    const before = [
      process.listenerCount('uncaughtException'),
      process.listenerCount('unhandledRejection'),
    ];
    const info = await initBackend('wasm');
    expect(info.name).toBe('wasm');
    expect(info.packageName).toBe('@tensorflow/tfjs-backend-wasm');
    expect(
      Array.from(
        tf
          .matMul(
            tf.eye(2),
            tf.tensor2d([
              [1, 2],
              [3, 4],
            ]),
          )
          .dataSync(),
      ),
    ).toEqual([1, 2, 3, 4]);
    expect([
      process.listenerCount('uncaughtException'),
      process.listenerCount('unhandledRejection'),
    ]).toEqual(before);
  });

  it('a forced backend that is unavailable throws INVALID_INPUT with the reason', async () => {
    const native = (await probeBackends())[0];
    if (native?.available === true) return;
    const err = await initBackend('tensorflow').catch((e: unknown) => e);
    expect(isXError(err, 'INVALID_INPUT')).toBe(true);
    expect(String(err)).toMatch(/backend 'tensorflow' is not available: .*tfjs-node/);
  });

  it('rejects an unknown backend name', async () => {
    const err = await initBackend('webgl' as 'cpu').catch((e: unknown) => e);
    expect(isXError(err, 'INVALID_INPUT')).toBe(true);
    expect(String(err)).toMatch(/unknown backend 'webgl'/);
  });

  it('withBackend runs on another backend and restores the previous one', async () => {
    await initBackend('cpu');
    const seen = await withBackend('wasm', () => tf.getBackend());
    expect(seen).toBe('wasm');
    expect(tf.getBackend()).toBe('cpu');
    expect(currentBackend()?.name).toBe('cpu');
  });
});
