import { execFileSync, spawnSync } from 'node:child_process';

/** Debian's Python, the real consumer our file formats are checked against. */
export const PYTHON = '/usr/bin/python3';

const probed = new Map<string, boolean>();

/**
 * Whether {@link PYTHON} runs and can import every module named (e.g. `'numpy'`, `'h5py'`).
 * Tests skip with a message naming the missing module when it cannot.
 */
export function pythonHas(...modules: string[]): boolean {
  const key = modules.join(',');
  let ok = probed.get(key);
  if (ok === undefined) {
    const script = modules.length > 0 ? `import ${modules.join(', ')}` : 'pass';
    ok = spawnSync(PYTHON, ['-c', script], { stdio: 'ignore' }).status === 0;
    probed.set(key, ok);
  }
  return ok;
}

/** Runs a Python script with arguments and returns its stdout (throws on a non-zero exit). */
export function runPython(script: string, args: readonly string[] = []): string {
  return execFileSync(PYTHON, ['-c', script, ...args], { encoding: 'utf8' });
}
