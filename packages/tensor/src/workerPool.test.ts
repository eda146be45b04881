import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { evalTs } from '@x/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import type { PoolInit, PoolJob, PoolResult } from './__fixtures__/poolWorker.js';
import { WorkerPool, workerScript } from './workerPool.js';

const script = new URL('./__fixtures__/poolWorker.js', import.meta.url);
const pools: WorkerPool<PoolInit, PoolJob, PoolResult>[] = [];

function pool(size: number): WorkerPool<PoolInit, PoolJob, PoolResult> {
  const p = new WorkerPool<PoolInit, PoolJob, PoolResult>({
    script,
    size,
    backend: 'cpu',
    init: { tag: 'fixture' },
    name: 'pool worker',
  });
  pools.push(p);
  return p;
}

afterAll(async () => {
  await Promise.all(pools.map((p) => p.dispose()));
});

describe('workerScript', () => {
  it('takes the built .js when it exists, else the .ts beside it under tsx', () => {
    const dir = mkdtempSync(join(tmpdir(), 'x-worker-script-'));
    try {
      writeFileSync(join(dir, 'built.js'), '');
      writeFileSync(join(dir, 'source.ts'), '');
      const built = pathToFileURL(join(dir, 'built.js'));
      expect(workerScript(built)).toEqual({ url: built, execArgv: [] });
      const source = workerScript(pathToFileURL(join(dir, 'source.js')));
      expect(source.url.href).toBe(pathToFileURL(join(dir, 'source.ts')).href);
      expect(source.execArgv.slice(0, 2)).toEqual(['--conditions=@x/source', '--import']);
      expect(source.execArgv[2]).toMatch(/^file:.*tsx/);
      expect(() => workerScript(pathToFileURL(join(dir, 'missing.js')))).toThrow(
        expect.objectContaining({
          code: 'INTERNAL',
          message: expect.stringContaining('missing.js'),
        }),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('WorkerPool', () => {
  const ordered = pool(2);

  it('runs each job on the chosen worker, in order, after init, on a single-threaded backend', async () => {
    // Later jobs finish sooner: results still come back in the order asked.
    const jobs = [60, 50, 40, 30, 20, 10].map((delayMs, k) => ({
      op: 'echo' as const,
      value: k,
      delayMs,
    }));
    const results = await Promise.all(jobs.map((job, k) => ordered.run(k % 2, job)));
    expect(results.map((r) => r.value)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(results.map((r) => r.seq)).toEqual([1, 1, 2, 2, 3, 3]);
    const [a, b] = [results[0]?.threadId, results[1]?.threadId];
    expect(a).not.toBe(b);
    expect(results.map((r) => r.threadId)).toEqual([a, b, a, b, a, b]);
    for (const r of results) {
      expect(r).toMatchObject({ tag: 'fixture', backend: 'cpu' });
      expect(r.data).toEqual(Float32Array.of(r.value, r.value + 0.5));
    }
  });

  it('a job that throws rejects with its code and message; the worker goes on', async () => {
    await expect(
      ordered.run(1, { op: 'throw', message: 'train.lr: bad', code: 'INVALID_CONFIG' }),
    ).rejects.toMatchObject({
      name: 'XError',
      code: 'INVALID_CONFIG',
      message: 'train.lr: bad',
      details: { worker: 'pool worker 1' },
    });
    await expect(
      ordered.run(0, { op: 'throw', message: 'not ours', code: 'ERR_SOMETHING' }),
    ).rejects.toMatchObject({ code: 'INTERNAL', message: 'not ours' });
    expect(ordered.failed).toBeUndefined();
    expect((await ordered.run(1, { op: 'echo', value: 9, delayMs: 0 })).value).toBe(9);
    await expect(ordered.run(2, { op: 'echo', value: 0, delayMs: 0 })).rejects.toMatchObject({
      code: 'INTERNAL',
    });
  });

  it('dispose rejects the pending jobs and later ones', async () => {
    const pending = expect(
      ordered.run(0, { op: 'echo', value: 1, delayMs: 5_000 }),
    ).rejects.toThrow(/pool workers stopped before the job finished/);
    await ordered.dispose();
    await pending;
    await expect(ordered.run(0, { op: 'echo', value: 2, delayMs: 0 })).rejects.toThrow(
      /pool workers were stopped/,
    );
    expect(ordered.failed).toBeUndefined();
  });

  it('a worker that exits fails its pending jobs, the other workers’ and the pool, naming it', async () => {
    const p = pool(2);
    const settled = await Promise.allSettled([
      p.run(0, { op: 'echo', value: 1, delayMs: 5_000 }),
      p.run(1, { op: 'exit', code: 3 }),
    ]);
    const exit = /pool worker 1 exited with code 3/;
    for (const s of settled)
      expect(s).toMatchObject({
        status: 'rejected',
        reason: { message: expect.stringMatching(exit) },
      });
    expect(p.failed).toMatchObject({ code: 'INTERNAL' });
    await expect(p.run(0, { op: 'echo', value: 2, delayMs: 0 })).rejects.toThrow(exit);
  });

  it('a worker that throws outside a job fails the pool, naming it', async () => {
    const p = pool(1);
    await expect(p.run(0, { op: 'crash' })).rejects.toThrow(
      /pool worker 0 failed: boom outside a job/,
    );
    expect(p.failed?.code).toBe('INTERNAL');
  });

  it('idle workers do not keep the process alive (a child that never disposes its pool exits)', () => {
    const child = evalTs(
      [
        `import { WorkerPool } from ${JSON.stringify(new URL('./workerPool.ts', import.meta.url).href)};`,
        `const pool = new WorkerPool({ script: new URL(${JSON.stringify(script.href)}),`,
        `  size: 2, backend: 'cpu', init: { tag: 'child' }, name: 'pool worker' });`,
        `const r = await pool.run(1, { op: 'echo', value: 7, delayMs: 0 });`,
        `process.stdout.write(r.tag + ' ' + r.value);`,
      ].join('\n'),
      { timeoutMs: 60_000 },
    );
    expect(child).toMatchObject({ code: 0, signal: null, stdout: 'child 7' });
  });
});
