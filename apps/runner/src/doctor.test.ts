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

describe('runner doctor on wasm threads and webgpu', () => {
  it('shows the wasm thread count it was given', () => {
    const r = runRunner(['doctor', '--backend', 'wasm', '--threads', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/chosen: wasm \(requested wasm; .*, 2 threads\)/);
    expect(r.stdout).toMatch(/webgpu\s+(available|unavailable)/);
    const bad = runRunner(['doctor', '--threads', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--threads: expected an integer >= 1, got "0"');
  });

  it('lists the WebGPU adapter and self-checks on it when forced (skips without an adapter)', (t) => {
    const r = runRunner(['doctor', '--backend', 'webgpu']);
    if (r.code === 2 && /backend 'webgpu' is not available/.test(r.stderr)) {
      t.skip(`no WebGPU adapter here: ${r.stderr.trim().split('\n').pop() ?? ''}`);
    }
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/adapter: vendor \S+, architecture \S+, .*\((software|hardware)/);
    expect(r.stdout).toMatch(
      /chosen: webgpu \(requested webgpu; .*adapter .*\((software|hardware)\)\)/,
    );
    expect(r.stdout).toMatch(/ok\s+conv2d \(order 2\)/);
    expect(r.stdout).toContain('doctor: all checks passed');
  });
});
