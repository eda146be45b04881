import { describe, expect, it } from 'vitest';
import { runRunner } from './testkit.js';

describe('runner doctor', () => {
  it('reports backends, the forced choice and a passing gradient self-check (X_BACKEND=cpu)', () => {
    const r = runRunner(['doctor'], { env: { X_BACKEND: 'cpu' } });
    expect(r.stderr).not.toContain('    at ');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/wasm\s+available/);
    expect(r.stdout).toMatch(/tensorflow\s+unavailable .*not installed/);
    expect(r.stdout).toContain('chosen: cpu (requested cpu;');
    expect(r.stdout).toMatch(/ok\s+conv2d \(order 2\)/);
    expect(r.stdout).toMatch(/ok\s+swish \(order 2\)/);
    expect(r.stdout).toContain('doctor: all checks passed');
  });

  it('rejects an unavailable forced backend with exit code 2', () => {
    const r = runRunner(['doctor', '--backend', 'tensorflow']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("backend 'tensorflow' is not available");
    expect(r.stderr).not.toContain('    at ');
  });
});
