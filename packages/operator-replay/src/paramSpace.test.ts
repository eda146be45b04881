import { isXError } from '@x/core';
import { describe, expect, it } from 'vitest';
import { resolveDatasetConfig } from './datasetConfig.js';
import {
  DEFAULT_PARAMETER_SPACE,
  PARAMETER_NAMES,
  blockChannels,
  mapParameters,
  type ParameterSpace,
} from './paramSpace.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isXError(err) ? `${err.code}: ${err.message}` : String(err);
  }
  return undefined;
}

describe('parameter space', () => {
  it('has the 14 parameters of the original, in order', () => {
    expect(PARAMETER_NAMES).toHaveLength(14);
    expect(PARAMETER_NAMES[0]).toBe('num_layers');
    expect(PARAMETER_NAMES[13]).toBe('dt');
  });

  it('maps the unit cube corners to the range ends and categorical values by floor(u·n)', () => {
    const lo = mapParameters(new Float64Array(14).fill(0), DEFAULT_PARAMETER_SPACE);
    const hi = mapParameters(new Float64Array(14).fill(1), DEFAULT_PARAMETER_SPACE);
    expect(lo).toMatchObject({
      numLayers: 2,
      baseChannels: 4,
      kernelSize: 3,
      noiseType: 'gaussian',
      updatePolicy: 'autoregressive',
    });
    expect(hi).toMatchObject({
      numLayers: 5,
      baseChannels: 16,
      kernelSize: 7,
      noiseType: 'multiplicative',
      updatePolicy: 'convex',
    });
    expect(lo.noiseScale).toBeCloseTo(1e-5, 12);
    expect(hi.noiseScale).toBeCloseTo(1, 12);
    const mid = mapParameters(new Float64Array(14).fill(0.5), DEFAULT_PARAMETER_SPACE);
    expect(mid.dt).toBeCloseTo(0.01, 12);
    expect(mid.kernelSize).toBe(5);
    expect(mid.noiseSchedule).toBe('annealing');
    expect(blockChannels({ ...mid, numLayers: 4, baseChannels: 8 })).toEqual([8, 16, 32, 32]);
  });

  it('honours categorical weights', () => {
    const space: ParameterSpace = {
      ...DEFAULT_PARAMETER_SPACE,
      update_policy: { kind: 'choice', options: ['residual', 'convex'], weights: [3, 1] },
    };
    const u = new Float64Array(14).fill(0.5);
    u[11] = 0.74;
    expect(mapParameters(u, space).updatePolicy).toBe('residual');
    u[11] = 0.76;
    expect(mapParameters(u, space).updatePolicy).toBe('convex');
  });

  it('rejects values outside the unit cube, naming the parameter', () => {
    const u = new Float64Array(14).fill(0.5);
    u[6] = 1.5;
    expect(code(() => mapParameters(u, DEFAULT_PARAMETER_SPACE))).toMatch(
      /INVALID_INPUT: noise_scale: unit-cube value 1.5/,
    );
    u[6] = NaN;
    expect(code(() => mapParameters(u, DEFAULT_PARAMETER_SPACE))).toMatch(/noise_scale/);
    expect(code(() => mapParameters(new Float64Array(3), DEFAULT_PARAMETER_SPACE))).toMatch(
      /expected 14/,
    );
  });

  it('rejects invalid combinations clearly', () => {
    const space: ParameterSpace = {
      ...DEFAULT_PARAMETER_SPACE,
      grid_size: { kind: 'choice', options: [4] },
    };
    expect(code(() => mapParameters(new Float64Array(14).fill(1), space))).toMatch(
      /kernel_size 7 is wider than grid_size 4/,
    );
  });

  it('validates config ranges once, at the boundary', () => {
    expect(
      code(() =>
        resolveDatasetConfig({ parameters: { grid_size: { kind: 'choice', options: [32, 64] } } }),
      ),
    ).toMatch(/parameters.grid_size: a dataset has one grid size/);
    expect(
      code(() =>
        resolveDatasetConfig({ parameters: { alpha: { kind: 'float', min: 0.1, max: 1 } } }),
      ),
    ).toMatch(/alpha: the convex policy needs 0 <= alpha < 1/);
    expect(
      code(() =>
        resolveDatasetConfig({ parameters: { dt: { kind: 'float', min: 0, max: 1, log: true } } }),
      ),
    ).toMatch(/log-scale range needs min > 0/);
    expect(
      code(() =>
        resolveDatasetConfig({ parameters: { noise_type: { kind: 'choice', options: ['pink'] } } }),
      ),
    ).toMatch(/unknown option "pink"/);
    expect(code(() => resolveDatasetConfig({ timestepz: 3 }))).toMatch(/INVALID_CONFIG.*timestepz/);
  });

  it('derives a stable dataset id from the config', () => {
    const a = resolveDatasetConfig({ rootSeed: 3 });
    expect(resolveDatasetConfig({ rootSeed: 3 }).datasetId).toBe(a.datasetId);
    expect(resolveDatasetConfig({ rootSeed: 4 }).datasetId).not.toBe(a.datasetId);
    expect(resolveDatasetConfig({ rootSeed: 3, datasetId: 'mine' }).datasetId).toBe('mine');
  });
});
