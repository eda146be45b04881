import * as tf from '@tensorflow/tfjs-core';
import { isImmutable, type TensorData } from '@x/core';
import { describe, expect, it } from 'vitest';
import { initBackend, probeBackends } from './backend.js';
import { conv2d } from './layers.js';
import { selfCheck } from './selfCheck.js';
import { VariableSet } from './variableSet.js';
import { describeAdapter } from './webgpu.js';

const probe = (await probeBackends({ searchAdapters: true })).find((p) => p.name === 'webgpu');
const adapter = probe?.available === true ? probe.adapter : undefined;
const skip = adapter === undefined ? `no WebGPU adapter: ${probe?.detail ?? 'not probed'}` : '';

describe('webgpu adapter classification', () => {
  const fake = (info: Record<string, unknown>, isFallbackAdapter?: boolean) => ({
    info,
    ...(isFallbackAdapter === undefined ? {} : { isFallbackAdapter }),
    features: new Set<string>(),
    limits: {},
    requestDevice: () => Promise.resolve({}),
  });

  it('calls llvmpipe, SwiftShader and fallback adapters software, an NVIDIA GPU hardware', () => {
    const llvmpipe = describeAdapter(
      fake({ vendor: 'mesa', architecture: 'software', description: 'llvmpipe: Mesa 25.0.7' }),
    );
    expect(llvmpipe.software).toBe(true);
    expect(describeAdapter(fake({ vendor: 'google', device: 'SwiftShader Device' })).software).toBe(
      true,
    );
    expect(describeAdapter(fake({ vendor: 'x' }, true)).software).toBe(true);
    expect(describeAdapter(fake({ vendor: 'x', isFallbackAdapter: true })).software).toBe(true);
    const h200 = describeAdapter(
      fake({ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200' }),
    );
    expect(h200).toEqual({
      vendor: 'nvidia',
      architecture: 'hopper',
      device: '',
      description: 'NVIDIA H200',
      software: false,
    });
  });
});

describe.skipIf(adapter === undefined)(`webgpu backend ${skip}`, () => {
  it('auto never picks a software adapter; --backend webgpu does', async () => {
    const auto = await initBackend('auto');
    if (adapter?.software === true) expect(auto.name).not.toBe('webgpu');
    const info = await initBackend('webgpu');
    expect(info.name).toBe('webgpu');
    expect(info.adapter).toEqual(adapter);
    expect(info.packageName).toBe('@tensorflow/tfjs-backend-webgpu');
  });

  it("snapshots read the device: values equal getState(), marked immutable, later steps don't touch them", async () => {
    await initBackend('webgpu');
    const params = new VariableSet();
    tf.tidy(() => {
      params.add('w', tf.reshape(tf.linspace(-1, 1, 12), [3, 4]));
    });
    const snap = await params.snapshot();
    const w = snap['w'] as TensorData;
    expect(snap).toEqual(await params.getState());
    expect(isImmutable(w.data)).toBe(true);
    const before = Array.from(w.data);
    tf.tidy(() => params.get('w').assign(tf.zeros([3, 4])));
    await params.get('w').data();
    expect(Array.from(w.data)).toEqual(before);
    params.dispose();
  });

  it('computes conv2d like the cpu backend (async reads)', async () => {
    const run = () =>
      tf.tidy(() => {
        const x = tf.reshape<tf.Rank.R4>(tf.linspace(-1, 1, 2 * 5 * 5 * 3), [2, 5, 5, 3]);
        const k = tf.reshape<tf.Rank.R4>(tf.linspace(-0.5, 0.5, 3 * 3 * 3 * 4), [3, 3, 3, 4]);
        return conv2d(x, k);
      });
    await initBackend('cpu');
    const ref = run();
    const want = Array.from((await ref.data()) as Float32Array);
    ref.dispose();
    await initBackend('webgpu');
    const out = run();
    const got = Array.from((await out.data()) as Float32Array);
    out.dispose();
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i] as number, 4));
  });

  it('every training op passes the first- and second-order gradient check', async () => {
    await initBackend('webgpu');
    const report = await selfCheck();
    expect(report.backend).toBe('webgpu');
    expect(report.rows.filter((r) => !r.ok)).toEqual([]);
    expect(report.rows.length).toBeGreaterThan(10);
  });
});
