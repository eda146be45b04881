import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DatasetReader,
  PATHS,
  contentDigest,
  generateDataset,
  h5ready,
  resolveDatasetConfig,
} from '@x/operator-replay';
import { initBackend } from '@x/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commands } from './commands/index.js';
import { runInProcess, runRunner, tinyOpsConfig } from './testkit.js';

const cli = (args: string[]) => runInProcess(commands, args, dir);

const dir = mkdtempSync(join(tmpdir(), 'runner-ops-'));
const raw = tinyOpsConfig();
const yaml = join(dir, 'ops.yaml');
const single = join(dir, 'single.h5');
const N = 4;
const env = { X_BACKEND: 'cpu' };

beforeAll(async () => {
  writeFileSync(yaml, JSON.stringify(raw));
  await initBackend('cpu');
  await h5ready();
  await generateDataset({ config: resolveDatasetConfig(raw), total: N, out: single });
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('runner operators', () => {
  it('replays a dataset bit for bit in another process', () => {
    const r = runRunner(['operators', 'replay', single, '--verify', '--quiet'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/error|MISMATCH/i);
    expect(r.stdout).toContain(`verified ${N} operators: all bit-exact`);
    const last = JSON.parse(r.stdout.trim().split('\n').pop() as string) as {
      checked: number;
      mismatches: number[];
    };
    expect(last).toEqual({ file: single, checked: N, mismatches: [] });
  });

  it('exits 1 naming the operator whose stored hash was tampered with', async () => {
    const copy = join(dir, 'tampered.h5');
    const cp = await cli([
      'operators',
      'generate',
      '--n',
      String(N),
      '--out',
      copy,
      '--config',
      yaml,
      '--pictures',
      '0',
      '--quiet',
      '--backend',
      'cpu',
    ]);
    expect(cp.code).toBe(0);
    const h = DatasetReader.open(copy, 'a');
    h.dataset(PATHS.hash).write_slice([[2, 3], []], new Uint8Array(32).fill(7));
    h.close();
    const r = runRunner(['operators', 'replay', copy, '--verify', '--quiet'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/check failed: .*1 of 4 operators do not replay bit-exactly: 2\n/);
    expect(r.stdout).toMatch(/operator 2: MISMATCH stored 0707/);
    expect(
      (await cli(['operators', 'replay', copy, '--indices', '0,1,3', '--verify', '--quiet'])).code,
    ).toBe(0);
  });

  it('generates in worker processes, by shards, into a file equal to the single-process one', async () => {
    const out = join(dir, 'workers.h5');
    const r = await cli([
      'operators',
      'generate',
      '--n',
      String(N),
      '--out',
      out,
      '--config',
      yaml,
      '--workers',
      '2',
      '--backend',
      'cpu',
    ]);
    expect(r.stderr).toMatch(/generating 4 operators in 2 processes/);
    expect(r.code, r.stderr).toBe(0);
    expect(await contentDigest(out)).toBe(await contentDigest(single));
  });

  it('extracts a family by replay', async () => {
    const out = join(dir, 'extract.h5');
    const g = await cli([
      'operators',
      'generate',
      '--n',
      '2',
      '--out',
      out,
      '--config',
      yaml,
      '--pictures',
      '1',
      '--log',
      join(dir, 'extract-run'),
      '--backend',
      'cpu',
    ]);
    expect(g.stdout).toMatch(/picture: .*extract-svg\/operator-00000.svg/);
    expect(readFileSync(join(dir, 'extract-run', 'logs', 'episodes.jsonl'), 'utf8')).toMatch(
      /"index":1,"hash":"[0-9a-f]{64}"/,
    );
    const r = await cli(['operators', 'extract', out, '--family', 'temporal']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/added \/features\/temporal\/\{curves\} for 2 operators/);
    const i = await cli(['operators', 'inspect', out]);
    expect(JSON.parse(i.stdout) as unknown).toMatchObject({
      families: { summary: { version: 1 }, temporal: { version: 1 } },
    });
  });

  it('rejects bad input with exit 2 and a clear message', async () => {
    const cases: [string[], RegExp][] = [
      [['operators', 'generate', '--out', join(dir, 'x.h5')], /--n is required/],
      [
        ['operators', 'generate', '--n', '3', '--out', join(dir, 'x.h5'), '--shard', '3/3'],
        /--shard: expected <i>\/<n> with 0 <= i < n, got '3\/3'/,
      ],
      [
        ['operators', 'generate', '--n', '3', '--out', join(dir, 'x.h5'), '--set', 'timesteps=1'],
        /timesteps: expected integer >= 2/,
      ],
      [['operators', 'replay', join(dir, 'nope.h5'), '--verify'], /nope.h5: no such file/],
      [['operators', 'replay', single, '--indices', '9', '--verify'], /no operator 9/],
      [['operators', 'extract', single, '--family', 'nope'], /unknown feature family 'nope'/],
      [['operators', 'replay', yaml, '--verify'], /not an HDF5 file/],
    ];
    for (const [args, msg] of cases) {
      const r = await cli([...args, '--backend', 'cpu']);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(msg);
    }
  });
});
