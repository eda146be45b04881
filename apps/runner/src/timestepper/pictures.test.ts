import type { BenchReport, IntegrateResult } from '@x/timestepper';
import { describe, expect, it } from 'vitest';
import { benchSvg, energySvg, orbitSvg } from './pictures.js';

function texts(svg: string, cls: string): string[] {
  return [...svg.matchAll(new RegExp(`<text class="${cls}"[^>]*>([^<]*)</text>`, 'g'))].map(
    (m) => m[1] as string,
  );
}

const run: IntegrateResult = {
  steps: 3,
  forceEvals: 6,
  maxRelEnergyError: 1e-6,
  finalRelEnergyError: 1e-6,
  wallSeconds: 0,
  completed: true,
  frames: [0, 1, 2, 3].map((k) => ({
    t: k * 0.1,
    x: Float64Array.from([Math.cos(k), Math.sin(k), 0, -Math.cos(k), -Math.sin(k), 0]),
    v: new Float64Array(6),
    energy: -0.5,
    relEnergyError: 1e-8 * (k + 1),
    dt: 0.1 / (k + 1),
  })),
};

describe('timestepper pictures', () => {
  it('the benchmark plot marks points per method, labels axes and draws the tolerance line', () => {
    const report: BenchReport = {
      problem: 'kepler',
      tEnd: 100,
      methods: ['fixed', 'symmetric'].map((name, m) => ({
        name,
        points: [1e3, 1e4, 1e5].map((f, i) => ({
          param: i,
          forceEvals: f * (m + 1),
          maxRelEnergyError: 10 ** (-2 - 2 * i - m),
          finalRelEnergyError: 0,
          wallSeconds: 0,
          completed: true,
        })),
      })),
    } as BenchReport;
    const svg = benchSvg(report, 1e-4);
    expect(texts(svg, 'legend')).toEqual(['fixed', 'symmetric', 'tolerance 10⁻⁴']);
    expect(texts(svg, 'axis-label')).toEqual([
      'force evaluations (per integration)',
      'max relative energy error |ΔE/E₀|',
    ]);
    expect(svg).toMatch(/<line class="ref-line"/);
    expect(svg.match(/<circle /g)?.length).toBe(3 + 1);
    for (const t of texts(svg, 'tick'))
      expect(t).toMatch(/^(10[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+|1|10|100|1000|10000|0\.1|0\.01|0\.001)$/);
  });

  it('energy error and dt are on separate panels with their own axes and units', () => {
    const svg = energySvg(run, 'kepler');
    expect(svg.match(/<svg x="0" y="\d+" /g)).toHaveLength(2);
    expect(texts(svg, 'axis-label')).toEqual([
      'time t (N-body time units)',
      '|E(t) − E₀| / |E₀|',
      'time t (N-body time units)',
      'dt (N-body time units)',
    ]);
  });

  it('orbits are labelled with units and a legend entry per body', () => {
    const svg = orbitSvg(run, 'orbit');
    expect(texts(svg, 'axis-label')).toEqual([
      'x (N-body length units)',
      'y (N-body length units)',
    ]);
    expect(texts(svg, 'legend')).toEqual(['body 0', 'body 1']);
  });
});
