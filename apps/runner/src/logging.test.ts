import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRunLogger, readEventFile, readJsonl } from '@x/logging';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { runCli } from './cli.js';
import { memoryIO as io } from './testkit.js';
import type { Command } from './command.js';
import { runLoggingSchema } from './resolveConfig.js';
import { resolveTrainSetup, runFieldsSchema, trainFlags } from './runSetup.js';

const schema = z.strictObject({ ...runFieldsSchema, logging: runLoggingSchema });
const defaults = { seed: 0, steps: 30, saveEvery: 10, logging: {} };
const toy: Command = {
  path: ['toy', 'train'],
  summary: 'train a toy with the run logger',
  usage: '[flags]',
  options: trainFlags,
  async run(ctx) {
    const setup = resolveTrainSetup(ctx, 'toy', schema, defaults);
    const logger = createRunLogger({
      runDir: setup.runDir,
      pipeline: 'toy',
      config: setup.config,
      quiet: true,
      totalSteps: setup.config.steps,
      seed: setup.config.seed,
      wandb: false,
      handleSignals: false,
    });
    for (let step = 1; step <= setup.config.steps; step++) {
      logger.log({ loss: 1 / step }, { step });
      logger.logBatch({
        updateStep: step,
        episodeReturns: [step, step + 1, step + 2],
        successMask: [1, 0, 1],
      });
    }
    await logger.close({ exitCode: 0, preempting: false });
    setup.lock.release();
    return 0;
  },
};

describe('the run logger in a train command', () => {
  it('writes the contract run directory: logs/metrics.jsonl, logs/episodes.jsonl, logs/tb, svg', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runner-logging-'));
    const a = io(dir);
    expect(
      await runCli(
        [toy],
        [
          'toy',
          'train',
          '--out',
          'r',
          '--set',
          'logging.batched.logFrequency=5',
          '--set',
          'logging.batched.sampleFrequency=10',
        ],
        a,
      ),
    ).toBe(0);
    const run = join(dir, 'r');
    const rows = readJsonl(join(run, 'logs'));
    expect(rows.map((r) => r['step'])).toEqual([...Array(30).keys()].map((i) => i + 1));
    expect(rows[4]).toMatchObject({
      step: 5,
      'train/loss': 0.2,
      'batch/reward_mean': 6,
      'batch/success_rate': 2 / 3,
    });
    expect(readJsonl(join(run, 'logs'), 'episodes').map((e) => e['step'])).toEqual([
      10, 10, 10, 20, 20, 20, 30, 30, 30,
    ]);
    const tb = readdirSync(join(run, 'logs', 'tb'));
    expect(readEventFile(join(run, 'logs', 'tb', tb[0]!))[0]!.fileVersion).toBe('brain.Event:2');
    expect(existsSync(join(run, 'svg', 'charts', 'train', 'loss.svg'))).toBe(true);
    expect(readFileSync(join(run, 'config.yaml'), 'utf8')).toContain('logFrequency: 5');
  });

  it('rejects a removed logging setting by name with exit code 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runner-logging-'));
    const a = io(dir);
    expect(
      await runCli([toy], ['toy', 'train', '--out', 'r', '--set', 'logging.flush_interval=3'], a),
    ).toBe(2);
    expect(a.err).toContain("logging.flush_interval: 'flush_interval' was removed");
    const b = io(dir);
    expect(
      await runCli(
        [toy],
        ['toy', 'train', '--out', 'r2', '--set', 'logging.batched.sampleFrequency=0'],
        b,
      ),
    ).toBe(2);
    expect(b.err).toContain('logging.batched.sampleFrequency');
  });

  it('rejects a bad W&B section with exit code 2 before anything is written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runner-logging-'));
    const a = io(dir);
    const args = ['toy', 'train', '--out', 'w', '--set', 'logging.wandb.mode=sometimes'];
    expect(await runCli([toy], args, a)).toBe(2);
    expect(a.err).toMatch(
      /logging\.wandb\.mode: expected one of "online" \| "offline" \| "disabled"/,
    );
    const b = io(dir);
    const bad = ['toy', 'train', '--out', 'w', '--set', 'logging.wandb.runId=a/b'];
    expect(await runCli([toy], bad, b)).toBe(2);
    expect(b.err).toContain('logging.wandb.runId');
    expect(existsSync(join(dir, 'w'))).toBe(false);
  });
});
