import { describe, expect, it } from 'vitest';
import { bandLoss } from './loss.js';
import { cloneNBody, createState, type NBodyState } from './nbody.js';
import { makeProblem } from './problems.js';
import { stepWithLoss } from './stepLoss.js';

const band = { lower: 1e-6, upper: 1e-4 };

describe('band loss', () => {
  it('is zero inside the band and quadratic in log space outside', () => {
    expect(bandLoss(1e-5, band).loss).toBe(0);
    expect(bandLoss(1e-5, band).dRel).toBe(0);
    expect(bandLoss(1e-3, band).loss).toBeCloseTo(Math.log(10) ** 2, 6);
    expect(bandLoss(1e-8, band).loss).toBeCloseTo(Math.log(100) ** 2, 6);
  });

  it('pushes the error up below the lower edge and down above the upper edge', () => {
    expect(bandLoss(1e-8, band).dRel).toBeLessThan(0);
    expect(bandLoss(1e-3, band).dRel).toBeGreaterThan(0);
  });
});

describe('one-step loss gradient with respect to dt (float64)', () => {
  const loss = (base: NBodyState, dt: number) => stepWithLoss(cloneNBody(base), 0, dt, band).loss;

  it('matches central finite differences on both sides of the band', () => {
    const base = createState(makeProblem('kepler').ic);
    for (const dt of [2e-4, 3e-3, 8e-3]) {
      const exact = stepWithLoss(cloneNBody(base), 0, dt, band);
      const h = dt * 1e-4;
      const fd = (loss(base, dt + h) - loss(base, dt - h)) / (2 * h);
      expect(exact.loss).toBeGreaterThan(0);
      expect(Math.abs(exact.dLossDdt - fd)).toBeLessThan(5e-4 * Math.abs(fd));
    }
  });

  it('gives a negative gradient (lengthen dt) when the error is below the lower edge', () => {
    const base = createState(makeProblem('figure8').ic);
    const r = stepWithLoss(cloneNBody(base), 0, 1e-4, band);
    expect(r.rel).toBeLessThan(band.lower);
    expect(r.dLossDdt).toBeLessThan(0);
    const big = stepWithLoss(cloneNBody(base), 0, 0.3, band);
    expect(big.rel).toBeGreaterThan(band.upper);
    expect(big.dLossDdt).toBeGreaterThan(0);
  });
});
