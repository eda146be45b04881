import { Rng } from '@x/core';
import { describe, expect, it } from 'vitest';
import { getFamily, registerFamily, summaryFamily, temporalFamily } from './features.js';
import { FIELD_STAT_NAMES, fieldStatistics, powerSpectrum } from './fieldStats.js';
import { blurCircular } from './fields.js';

describe('field statistics', () => {
  it('finds the wavenumber of a pure cosine', () => {
    const g = 16;
    const x = new Float64Array(g * g);
    for (let i = 0; i < g; i++)
      for (let j = 0; j < g; j++) x[i * g + j] = Math.cos((2 * Math.PI * 4 * j) / g);
    const p = powerSpectrum(x, 0, g);
    expect(p[4]).toBeCloseTo((g * g * 0.5) ** 2, 6);
    expect(p[5]).toBeCloseTo(0, 6);
    const out = new Float64Array(FIELD_STAT_NAMES.length);
    fieldStatistics(x, 0, g, out, 0);
    expect(out[0]).toBeCloseTo(0, 12);
    expect(out[FIELD_STAT_NAMES.indexOf('dominant_wavenumber')]).toBeCloseTo(0.5, 12);
    expect(out[FIELD_STAT_NAMES.indexOf('power_mid')]).toBeCloseTo(1, 12);
  });

  it('blurs circularly, keeping the mean', () => {
    const rng = Rng.fromSeed(1);
    const x = new Float64Array(64);
    for (let i = 0; i < x.length; i++) x[i] = rng.normal();
    const mean = x.reduce((a, b) => a + b, 0);
    blurCircular(x, 8, 8, 1, 1.5);
    expect(x.reduce((a, b) => a + b, 0)).toBeCloseTo(mean, 10);
  });
});

describe('feature families', () => {
  const shape = [2, 4, 3, 8, 8] as const;
  const rng = Rng.fromSeed(2);
  const traj = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < traj.length; i++) traj[i] = rng.normal();

  it('summary: per-timestep → per-trajectory → mean/std/cv across realizations', () => {
    const specs = summaryFamily.datasets(shape);
    const out = summaryFamily.extract(traj, shape);
    for (const s of specs) {
      expect(out[s.name]).toHaveLength(s.trailing.reduce((a, b) => a * b, 1));
      expect(s.names).toHaveLength(s.trailing[s.trailing.length - 1] as number);
    }
    const again = summaryFamily.extract(traj, shape);
    expect(
      Buffer.from(again['aggregated']!.buffer).equals(Buffer.from(out['aggregated']!.buffer)),
    ).toBe(true);
    const agg = out['aggregated']!;
    const perTraj = out['per_trajectory']!;
    const d = perTraj.length / 2;
    expect(agg[0]).toBeCloseTo(((perTraj[0] as number) + (perTraj[d] as number)) / 2, 5);
  });

  it('temporal: curves over time with zero increment at t = 0', () => {
    const { curves } = temporalFamily.extract(traj, shape);
    expect(curves).toHaveLength(2 * 4 * 4);
    expect(curves![3]).toBe(0);
    expect(curves![7]).toBeGreaterThan(0);
  });

  it('has a registry that rejects unknown and duplicate names', () => {
    expect(() => getFamily('nope')).toThrow(/unknown feature family 'nope' \(known: .*summary/);
    expect(() => registerFamily({ ...summaryFamily })).toThrow(/already registered/);
    registerFamily({ ...temporalFamily, name: 'temporal_copy' });
    expect(getFamily('temporal_copy').version).toBe(1);
  });
});
