import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { commands } from './commands/index.js';
import { arrayTask, parseShardFlag } from './shardAuto.js';
import { runInProcess } from './testkit.js';

describe('--shard auto', () => {
  it('reads a SLURM job array, offset by SLURM_ARRAY_TASK_MIN', () => {
    expect(
      parseShardFlag('auto', { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '8' }),
    ).toEqual({ index: 3, count: 8 });
    expect(
      parseShardFlag('auto', {
        SLURM_ARRAY_TASK_ID: '4',
        SLURM_ARRAY_TASK_COUNT: '4',
        SLURM_ARRAY_TASK_MIN: '1',
      }),
    ).toEqual({ index: 3, count: 4 });
    expect(parseShardFlag('2/5', {})).toEqual({ index: 2, count: 5 });
  });

  it('reads a Kubernetes Indexed Job with the completion count given explicitly', () => {
    expect(parseShardFlag('auto/6', { JOB_COMPLETION_INDEX: '5' })).toEqual({ index: 5, count: 6 });
    expect(parseShardFlag('auto', { JOB_COMPLETION_INDEX: '0', JOB_COMPLETIONS: '2' })).toEqual({
      index: 0,
      count: 2,
    });
    expect(arrayTask('--index auto', 4, { JOB_COMPLETION_INDEX: '1' }).source).toBe(
      'JOB_COMPLETION_INDEX=1, count 4',
    );
  });

  it('names missing or inconsistent variables', () => {
    const cases: [string, Record<string, string>, RegExp][] = [
      ['auto', {}, /none of these variables is set/],
      [
        'auto',
        { SLURM_ARRAY_TASK_ID: '1' },
        /SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not/,
      ],
      [
        'auto',
        { JOB_COMPLETION_INDEX: '1' },
        /JOB_COMPLETION_INDEX is set but the completion count is not/,
      ],
      [
        'auto',
        { SLURM_ARRAY_TASK_ID: '8', SLURM_ARRAY_TASK_COUNT: '8' },
        /SLURM_ARRAY_TASK_ID=8 is outside the array of 8 tasks/,
      ],
      [
        'auto/4',
        { JOB_COMPLETION_INDEX: '1', JOB_COMPLETIONS: '3' },
        /explicit count 4 disagrees with JOB_COMPLETIONS=3/,
      ],
      [
        'auto',
        { SLURM_ARRAY_TASK_ID: '1', JOB_COMPLETION_INDEX: '1' },
        /both SLURM_ARRAY_TASK_ID and JOB_COMPLETION_INDEX are set/,
      ],
      [
        'auto',
        { SLURM_ARRAY_TASK_ID: 'x', SLURM_ARRAY_TASK_COUNT: '2' },
        /SLURM_ARRAY_TASK_ID='x' is not/,
      ],
      [
        'auto',
        { SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_STEP: '2' },
        /SLURM_ARRAY_TASK_STEP=2: the array must be contiguous/,
      ],
    ];
    for (const [text, env, msg] of cases) {
      expect(() => parseShardFlag(text, env), `${text} ${JSON.stringify(env)}`).toThrow(msg);
    }
  });

  it('is exit 2 at the CLI naming the variables', async () => {
    for (const k of ['SLURM_ARRAY_TASK_ID', 'SLURM_ARRAY_TASK_COUNT', 'JOB_COMPLETION_INDEX'])
      vi.stubEnv(k, undefined);
    vi.stubEnv('JOB_COMPLETION_INDEX', '2');
    const out = join(tmpdir(), 'never.h5');
    const r = await runInProcess(
      commands,
      ['operators', 'generate', '--n', '4', '--out', out, '--shard', 'auto', '--backend', 'cpu'],
      tmpdir(),
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--shard auto: JOB_COMPLETION_INDEX is set but the completion count/);
    vi.unstubAllEnvs();
  });
});
