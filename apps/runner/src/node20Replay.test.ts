import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runRunner } from './testkit.js';

// Datasets generated once on Node 20 (see __fixtures__/node20-operators/README.md): they must
// replay bit-exactly under whatever Node runs the suite (Node 24 in CI).
const fixtures = join(import.meta.dirname, '__fixtures__', 'node20-operators');
const madeOn = '20.20.2';
const otherMajor = process.versions.node.split('.')[0] !== madeOn.split('.')[0];

describe('operator datasets made on Node 20', () => {
  it.each(['cpu', 'wasm'])(`%s: replay bit-exactly on Node ${process.versions.node}`, (backend) => {
    const file = join(fixtures, `${backend}.h5`);
    const r = runRunner(['operators', 'replay', file, '--verify', '--allow-env-mismatch']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('verified 4 operators: all bit-exact');
    expect(JSON.parse(r.stdout.trim().split('\n').pop() ?? '')).toEqual({
      file,
      checked: 4,
      mismatches: [],
    });
    if (otherMajor) expect(r.stderr).toContain(`Node ${madeOn} ≠ ${process.versions.node}`);
  });

  it.runIf(otherMajor)(
    'are refused (exit 2) without --allow-env-mismatch, naming both Nodes',
    () => {
      const r = runRunner(['operators', 'replay', join(fixtures, 'cpu.h5'), '--verify']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`Node ${madeOn} ≠ ${process.versions.node}`);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    },
  );
});
