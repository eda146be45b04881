import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { evalTs } from '@x/test-utils';
import { afterAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const dirs: string[] = [];

function fakePackage(root: string, name: string, version: string, body: string): void {
  const dir = join(root, 'node_modules', ...name.split('/'));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version, main: 'index.js' }));
  writeFileSync(join(dir, 'index.js'), body);
}

/** Runs probe + auto selection in a fresh Node process whose cwd is `cwd`. */
function selectIn(cwd: string): {
  probes: { name: string; available: boolean; detail: string }[];
  info: unknown;
} {
  const script = `
    const { initBackend, probeBackends } = await import(${JSON.stringify(join(here, 'backend.ts'))});
    const probes = await probeBackends();
    const info = await initBackend('auto').then((i) => ({ name: i.name, packageName: i.packageName, packageVersion: i.packageVersion }), (e) => String(e));
    process.stdout.write(JSON.stringify({ probes, info }));
  `;
  const r = evalTs(script, { cwd, timeoutMs: 60_000 });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as ReturnType<typeof selectIn>;
}

describe('native tensorflow backend resolution (fake packages in the current directory)', () => {
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('skips a tfjs-node-gpu that fails to load, picks tfjs-node from the cwd and reports both', () => {
    const root = mkdtempSync(join(tmpdir(), 'x-tensor-native-'));
    dirs.push(root);
    fakePackage(
      root,
      '@tensorflow/tfjs-node-gpu',
      '4.22.0',
      "throw new Error('libcudart.so.11.0: cannot open shared object file');",
    );
    fakePackage(
      root,
      '@tensorflow/tfjs-node',
      '4.22.0-fake',
      "const e = globalThis._tfengine; e.registerBackend('tensorflow', () => e.findBackend('cpu'), 3);",
    );
    const { probes, info } = selectIn(root);
    expect(probes[0]).toEqual({
      name: 'tensorflow',
      available: true,
      detail:
        '@tensorflow/tfjs-node@4.22.0-fake (@tensorflow/tfjs-node-gpu: failed to load: libcudart.so.11.0: cannot open shared object file)',
    });
    expect(info).toEqual({
      name: 'tensorflow',
      packageName: '@tensorflow/tfjs-node',
      packageVersion: '4.22.0-fake',
    });
  });

  it('falls back to wasm and says why when neither native package is usable', () => {
    const root = mkdtempSync(join(tmpdir(), 'x-tensor-native-'));
    dirs.push(root);
    fakePackage(
      root,
      '@tensorflow/tfjs-node',
      '4.22.0',
      "throw new Error('The specified module could not be found.\\nmore');",
    );
    const { probes, info } = selectIn(root);
    expect(probes[0]?.available).toBe(false);
    expect(probes[0]?.detail).toBe(
      '@tensorflow/tfjs-node-gpu: not installed; @tensorflow/tfjs-node: failed to load: The specified module could not be found.',
    );
    expect((info as { name: string }).name).toBe('wasm');
  });
});
