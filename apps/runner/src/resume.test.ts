import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { EpochCursor, listCheckpoints, loadFrom, openRunCheckpoints } from '@x/checkpoint';
import { Rng, RngStreams, ValueComponent, captureState, stateDigest } from '@x/core';
import { ExperimentLogger } from '@x/logging';
import { Adam, Ema, VariableSet, dense, glorotUniform, initBackend, zeros } from '@x/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = mkdtempSync(join(tmpdir(), 'x-resume-'));
let backend = '';
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A tiny MLP regression run where every source of state is a Component. */
function makeRun(seed: number, runDir: string) {
  const rng = new RngStreams(seed);
  const dataset = new Float32Array(64 * 3);
  Rng.fromSeed(seed).stream('dataset').fillNormal(dataset);
  const cursor = new EpochCursor(64, seed);
  const logger = new ExperimentLogger({
    run: { runDir, pipeline: 'resume-test', config: {}, startStep: 0, resumed: false },
    sinks: [],
  });
  const init = rng.get('init');
  const params = new VariableSet();
  params.add('l1/kernel', glorotUniform(init, [3, 8], 3, 8));
  params.add('l1/bias', zeros([8]));
  params.add('l2/kernel', glorotUniform(init, [8, 1], 8, 1));
  params.add('l2/bias', zeros([1]));
  const optimizer = new Adam(params, { learningRate: 0.01, clipGlobalNorm: 5 });
  const ema = new Ema(params, 0.9);
  const trainer = new ValueComponent({ step: 0, examples: 0 });
  const components = { model: params, optimizer, ema, rng, data: cursor, trainer, logger };

  const step = async (): Promise<number> => {
    const data = rng.get('data');
    const n = 1 + data.int(4, 9);
    const xs = new Float32Array(n * 3);
    cursor.next(n).forEach((ex, i) => xs.set(dataset.subarray(3 * ex, 3 * ex + 3), 3 * i));
    const ys = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      ys[i] =
        Math.sin(xs[3 * i] as number) +
        0.5 * (xs[3 * i + 1] as number) * (xs[3 * i + 2] as number) +
        0.05 * data.normal();
    }
    const { value, grads } = params.valueAndGrads(() =>
      tf.tidy(() => {
        const x = tf.tensor2d(xs, [n, 3]);
        const h = tf.relu(
          dense(x, params.get('l1/kernel') as tf.Tensor2D, params.get('l1/bias') as tf.Tensor1D),
        );
        const y = dense(
          h,
          params.get('l2/kernel') as tf.Tensor2D,
          params.get('l2/bias') as tf.Tensor1D,
        );
        return tf.mean<tf.Scalar>(tf.square(tf.sub(y, tf.tensor2d(ys, [n, 1]))));
      }),
    );
    await Promise.resolve(optimizer.apply(grads));
    await Promise.resolve(ema.update());
    const loss = (value.dataSync() as Float32Array)[0] as number;
    tf.dispose([value, ...Object.values(grads)]);
    trainer.value = { step: trainer.value.step + 1, examples: trainer.value.examples + n };
    logger.log({ loss }, { step: trainer.value.step });
    return loss;
  };
  const dispose = async () => {
    await logger.close({ exitCode: 0, preempting: false });
    ema.dispose();
    params.dispose();
  };
  return { components, step, dispose };
}

async function train(
  runDir: string,
  total: number,
  resume: boolean,
  saveEvery: number,
  skipRng = false,
) {
  const run = makeRun(42, runDir);
  const ckpt = openRunCheckpoints(runDir, {
    saveEvery,
    resume,
    async: true,
    retention: { keepLast: 2, best: { metric: 'loss', mode: 'min' } },
    versions: { tfjs: tf.version_core, backend },
  });
  const { rng: _rng, ...withoutRng } = run.components;
  let { step } = await ckpt.resume(skipRng ? withoutRng : run.components);
  let loss = NaN;
  // The state right after each step's (possibly async) save: the checkpoints must hold exactly
  // these, though training went on while they were written.
  const seen = new Map<number, string>();
  while (step < total) {
    loss = await run.step();
    step++;
    await ckpt.maybeSave(step, run.components, { metrics: { loss } });
    seen.set(step, stateDigest(await captureState(run.components)));
  }
  await ckpt.finish(step, run.components, { metrics: { loss } });
  const digest = stateDigest(await captureState(run.components));
  const modelDigest = stateDigest(await Promise.resolve(run.components.model.getState()));
  await run.dispose();
  for (const listed of await listCheckpoints(runDir)) {
    const c = await loadFrom(listed.dir, { verifyDigest: true });
    if (seen.has(c.step)) expect(c.manifest.stateDigest, `step ${c.step}`).toBe(seen.get(c.step));
  }
  return { digest, modelDigest };
}

describe.each(['cpu', 'wasm'] as const)(
  'on %s: resume equivalence with a TensorFlow.js model, Adam, EMA, RNG-driven data, data cursor and logger',
  (name) => {
    beforeAll(async () => {
      backend = (await initBackend(name)).name;
    });

    it('training N, saving, restoring into fresh objects and training M more equals N+M straight', async () => {
      const { digest: straight } = await train(join(root, `${name}-straight`), 14, false, 100);
      const dir = join(root, `${name}-resumed`);
      const { digest: atN } = await train(dir, 9, false, 4);
      expect((await loadFrom(dir)).manifest.stateDigest).toBe(atN);
      const { digest: resumed } = await train(dir, 14, true, 4);
      expect(resumed).toBe(straight);
      const final = await loadFrom(dir);
      expect(final.step).toBe(14);
      expect(final.manifest.stateDigest).toBe(straight);
      expect(final.manifest.versions['backend']).toBe(backend);
    }, 120_000);

    it('is sensitive: a resume that does not restore the RNG streams diverges', async () => {
      const straight = await train(join(root, `${name}-straight2`), 8, false, 100);
      const dir = join(root, `${name}-no-rng`);
      await train(dir, 5, false, 5);
      expect((await train(dir, 8, true, 5, true)).modelDigest).not.toBe(straight.modelDigest);
    }, 120_000);
  },
);
