import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isXError } from '@x/core';
import { spawnTs } from '@x/test-utils';
import { describe, expect, it } from 'vitest';
import { readJsonl } from './sinks/jsonlSink.js';
import { createRunLogger } from './runLogger.js';
import { readEventFile } from './tensorboard/events.js';

const here = dirname(fileURLToPath(import.meta.url));

describe('createRunLogger', () => {
  it('sets up console, jsonl, tensorboard and svg per the run-directory layout', async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'run-'));
    const logger = createRunLogger({
      runDir,
      pipeline: 'demo',
      config: { seed: 3, logging: { sinks: { console: { enabled: false } } } },
      totalSteps: 10,
      wandb: false,
      handleSignals: false,
    });
    expect(logger.sinkNames).toEqual(['jsonl', 'tensorboard', 'svg']);
    for (let s = 0; s < 10; s++) logger.log({ loss: 10 - s }, { step: s });
    logger.logPicture('board', '<svg xmlns="http://www.w3.org/2000/svg"/>', {
      step: 9,
      category: 'eval',
    });
    await logger.close({ exitCode: 0, preempting: false });
    expect(readJsonl(join(runDir, 'logs'))).toHaveLength(10);
    expect(readdirSync(join(runDir, 'logs', 'tb'))).toHaveLength(1);
    expect(existsSync(join(runDir, 'svg', 'eval', 'board_step-00000009.svg'))).toBe(true);
    expect(existsSync(join(runDir, 'svg', 'charts', 'train', 'loss.svg'))).toBe(true);
  });

  it('rejects a bad logging section with the key named', () => {
    let err: unknown;
    try {
      createRunLogger({
        runDir: tmpdir(),
        pipeline: 'x',
        config: { logging: { queue_size: 4 } },
        wandb: false,
      });
    } catch (e) {
      err = e;
    }
    expect(isXError(err, 'INVALID_CONFIG')).toBe(true);
    expect((err as Error).message).toMatch(/logging\.queue_size: 'queue_size' was removed/);
  });

  it('an uncaught exception still leaves every committed row in JSONL and TensorBoard', async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'crash-'));
    const child = spawnTs(join(here, '__fixtures__', 'signalChild.ts'), [runDir, 'crash']);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    expect(code).toBe(1);
    expect(stderr).toContain('boom');
    const steps = readJsonl(join(runDir, 'logs')).map((r) => r['step'] as number);
    expect(steps.length).toBeGreaterThanOrEqual(50);
    expect(steps).toEqual([...Array(steps.length).keys()]);
    const tbDir = join(runDir, 'logs', 'tb');
    const events = readEventFile(join(tbDir, readdirSync(tbDir)[0]!));
    expect(
      events.filter((e) => e.values.some((v) => v.tag === 'train/loss')).map((e) => e.step),
    ).toEqual(steps);
  });

  it('a SIGTERM during logging leaves complete JSONL and TensorBoard files', async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'sig-'));
    const child = spawnTs(join(here, '__fixtures__', 'signalChild.ts'), [runDir]);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((res, rej) => {
      child.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) res();
      });
      child.on('exit', () => rej(new Error(`child exited early: ${stderr}`)));
    });
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    expect(code, stderr).toBe(143);
    const text = readFileSync(join(runDir, 'logs', 'metrics.jsonl'), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const rows = readJsonl(join(runDir, 'logs'));
    const steps = rows.map((r) => r['step'] as number);
    expect(steps.length).toBeGreaterThan(200);
    expect(steps).toEqual([...Array(steps.length).keys()]);
    expect(rows[7]!['train/big']).toBe(Infinity);
    expect(rows.every((r) => r['eval/acc'] === 0.5)).toBe(true);
    const tbDir = join(runDir, 'logs', 'tb');
    const events = readEventFile(join(tbDir, readdirSync(tbDir)[0]!));
    const tbSteps = events
      .filter((e) => e.values.some((v) => v.tag === 'train/loss'))
      .map((e) => e.step);
    expect(tbSteps).toEqual(steps);
  });
});
