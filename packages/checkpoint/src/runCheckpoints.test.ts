import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RngStreams, ValueComponent, captureState, isXError, stateDigest } from '@x/core';
import { afterAll, describe, expect, it } from 'vitest';
import { Bag } from './__fixtures__/components.js';
import { loadFrom, restoreFrom } from './resolve.js';
import { openRunCheckpoints } from './runCheckpoints.js';

const root = mkdtempSync(join(tmpdir(), 'x-ckpt-run-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshRun = () => join(root, `run${++n}`);

/** A toy training run: SGD on a linear model with RNG-driven data; every piece is a Component. */
function makeRun() {
  const model = new Bag(4);
  const rng = new RngStreams(11);
  const trainer = new ValueComponent({ step: 0, seen: 0 });
  const components = { model, rng, trainer };
  const trainStep = () => {
    const data = rng.get('data');
    const x = Array.from({ length: 4 }, () => data.normal());
    const y = 2 * (x[0] as number) - (x[3] as number) + 0.1 * data.normal();
    let pred = model.b[0] as number;
    for (let i = 0; i < 4; i++) pred += (model.w[i] as number) * (x[i] as number);
    const g = pred - y;
    for (let i = 0; i < 4; i++) model.w[i] = (model.w[i] as number) - 0.05 * g * (x[i] as number);
    model.b[0] = (model.b[0] as number) - 0.05 * g;
    trainer.value = { step: trainer.value.step + 1, seen: trainer.value.seen + 1 };
    return g * g;
  };
  return { components, trainStep };
}

async function train(runDir: string, steps: number, resume: boolean, warnings: string[] = []) {
  const run = makeRun();
  const ckpt = openRunCheckpoints(runDir, {
    saveEvery: 3,
    resume,
    retention: { keepLast: 2 },
    onWarning: (w) => warnings.push(w),
  });
  let { step } = await ckpt.resume(run.components);
  let loss = 0;
  while (step < steps) {
    loss = run.trainStep();
    step++;
    await ckpt.maybeSave(step, run.components, { metrics: { loss } });
  }
  await ckpt.finish(step, run.components, { metrics: { loss } });
  return { digest: stateDigest(await captureState(run.components)), ckpt };
}

describe('openRunCheckpoints: --save-every and --resume', () => {
  it('resuming from step N and training to N+M equals training to N+M straight', async () => {
    const straight = await train(freshRun(), 10, false);
    const dir = freshRun();
    await train(dir, 7, false);
    expect(readdirSync(join(dir, 'checkpoints')).sort()).toEqual([
      'step-00000006',
      'step-00000007',
    ]);
    const resumed = await train(dir, 10, true);
    expect(resumed.digest).toBe(straight.digest);
    expect((await resumed.ckpt.manager.list()).map((c) => c.step)).toEqual([9, 10]);
  });

  it('a damaged newest checkpoint: resume falls back with a warning, moves it aside, and the run still matches', async () => {
    const straight = await train(freshRun(), 9, false);
    const dir = freshRun();
    await train(dir, 7, false);
    writeFileSync(join(dir, 'checkpoints', 'step-00000007', 'state.safetensors'), 'garbage');
    const warnings: string[] = [];
    const resumed = await train(dir, 9, true, warnings);
    expect(resumed.digest).toBe(straight.digest);
    expect(warnings.join('\n')).toMatch(/step-00000007 is damaged/);
    expect(warnings.join('\n')).toMatch(/moved to .*step-00000007\.damaged-/);
  });

  it('a resumed run without checkpoints starts at 0 with a warning', async () => {
    const warnings: string[] = [];
    const r = await train(freshRun(), 2, true, warnings);
    expect(warnings[0]).toMatch(/no checkpoint/);
    expect(r.digest).toBe((await train(freshRun(), 2, false)).digest);
  });
});

describe('beforeSave', () => {
  it('runs before every checkpoint is captured: cadence, final and direct manager saves', async () => {
    const seen: number[] = [];
    const trainer = new ValueComponent({ step: 0 });
    const ckpt = openRunCheckpoints(freshRun(), {
      saveEvery: 2,
      beforeSave: (step) => {
        seen.push(step);
        trainer.setState({ step }); // what the hook does lands in the checkpoint
      },
    });
    for (let s = 1; s <= 5; s++) await ckpt.maybeSave(s, { trainer });
    await ckpt.manager.save(7, { trainer });
    await ckpt.finish(8, { trainer });
    expect(seen).toEqual([2, 4, 7, 8]);
    expect((await loadFrom(join(ckpt.directory, 'step-00000007'))).state['trainer']).toEqual({
      step: 7,
    });
  });
});

describe('<ckpt|run-dir> resolution', () => {
  it('resolves a run directory to its newest valid checkpoint and a checkpoint directory to itself', async () => {
    const dir = freshRun();
    await train(dir, 7, false);
    expect((await loadFrom(dir)).step).toBe(7);
    expect((await loadFrom(join(dir, 'checkpoints'))).step).toBe(7);
    expect((await loadFrom(join(dir, 'checkpoints', 'step-00000006'))).step).toBe(6);
    writeFileSync(join(dir, 'checkpoints', 'step-00000007', 'state.json'), '{}');
    const warnings: string[] = [];
    const r = await restoreFrom(dir, { model: new Bag(4) }, { onWarning: (w) => warnings.push(w) });
    expect(r.step).toBe(6);
    expect(warnings).toHaveLength(1);
    await expect(loadFrom(join(dir, 'checkpoints', 'step-00000007'))).rejects.toSatisfy((e) =>
      isXError(e, 'INTEGRITY'),
    );
    await expect(loadFrom(join(root, 'nope'))).rejects.toSatisfy((e) => isXError(e, 'NOT_FOUND'));
    await expect(loadFrom(root)).rejects.toSatisfy((e) => isXError(e, 'NOT_FOUND'));
  });

  it('checks every checksum by default and recomputes the state digest only with verifyDigest', async () => {
    const dir = freshRun();
    await train(dir, 3, false);
    const ck = join(dir, 'checkpoints', 'step-00000003');
    const manifestPath = join(ck, 'manifest.json');
    const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as { stateDigest: string };
    const real = m.stateDigest;
    const forged = `${real.startsWith('0') ? '1' : '0'}${real.slice(1)}`;
    writeFileSync(manifestPath, JSON.stringify({ ...m, stateDigest: forged }, null, 2));
    expect((await loadFrom(ck)).manifest.stateDigest).toBe(forged);
    await expect(loadFrom(ck, { verifyDigest: true })).rejects.toSatisfy(
      (e) => isXError(e, 'INTEGRITY') && e.message.includes(real) && e.message.includes(forged),
    );
    const tensors = join(ck, 'state.safetensors');
    const bytes = readFileSync(tensors);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
    writeFileSync(tensors, bytes);
    await expect(loadFrom(ck)).rejects.toSatisfy(
      (e) => isXError(e, 'INTEGRITY') && e.message.includes('SHA-256'),
    );
  });
});
