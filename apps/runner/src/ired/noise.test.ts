import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { iredCommands } from '../commands/ired.js';
import { runInProcess, tinyIredSets } from '../testkit.js';

const dir = mkdtempSync(join(tmpdir(), 'x-ired-noise-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (args: string[]) => runInProcess(iredCommands, args, dir);
const last = (s: string) =>
  JSON.parse(s.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;

describe('runner ired eval --noise', () => {
  it('samples with reverse-process noise reproducibly; a bad scale is exit 2 naming the flag', async () => {
    const train = await run([
      'ired',
      'train',
      '--out',
      join(dir, 'run'),
      '--steps',
      '2',
      '--save-every',
      '2',
      ...tinyIredSets,
      '--backend',
      'cpu',
      '--quiet',
    ]);
    expect(train.code, train.stderr).toBe(0);
    const evalArgs = (noise: string) => [
      'ired',
      'eval',
      '--checkpoint',
      join(dir, 'run'),
      '--generate',
      '3',
      '--restarts',
      '2',
      '--noise',
      noise,
      '--backend',
      'cpu',
      '--quiet',
    ];
    const a = await run(evalArgs('1'));
    expect(a.code, a.stderr).toBe(0);
    const b = await run(evalArgs('1'));
    const ma = last(a.stdout);
    expect(ma['noise']).toBe(1);
    expect(ma['restarts']).toBe(2);
    const { seconds: _a, ...restA } = ma;
    const { seconds: _b, ...restB } = last(b.stdout);
    expect(restB).toEqual(restA);
    const quiet = await run(evalArgs('0'));
    expect(last(quiet.stdout)['noise']).toBe(0);
    const bad = await run(evalArgs('lots'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--noise: expected a number >= 0, got 'lots'/);
  });
});
