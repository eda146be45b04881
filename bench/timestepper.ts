import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { initBackend } from '../packages/tensor/src/index.js';
import {
  TimestepTrainer,
  cloneNBody,
  createState,
  defaultTrainConfig,
  leapfrogStep,
  makeProblem,
  totalEnergy,
  type NBodyState,
  type TrainConfig,
} from '../packages/timestepper/src/index.js';

const NUMPY_LEAPFROG = String.raw`
import json, sys, time
import numpy as np
cfg = json.load(sys.stdin)
x = np.array(cfg['x'], dtype=np.float64).reshape(-1, 3)
v = np.array(cfg['v'], dtype=np.float64).reshape(-1, 3)
m = np.array(cfg['m'], dtype=np.float64)
eps2 = cfg['eps'] ** 2
dt = cfg['dt']
steps = cfg['steps']
def acc(x):
    d = x[None, :, :] - x[:, None, :]
    s2 = (d * d).sum(-1) + eps2
    np.fill_diagonal(s2, np.inf)
    inv3 = s2 ** -1.5
    return (d * (m[None, :, None] * inv3[:, :, None])).sum(1)
a = acc(x)
t0 = time.perf_counter()
for _ in range(steps):
    v += 0.5 * dt * a
    x += dt * v
    a = acc(x)
    v += 0.5 * dt * a
el = time.perf_counter() - t0
print(json.dumps({'seconds': el, 'x': x.ravel().tolist()}))
`;

function tsSteps(s0: NBodyState, dt: number, steps: number): { seconds: number; s: NBodyState } {
  const s = cloneNBody(s0);
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) leapfrogStep(s, 0, dt);
  return { seconds: (performance.now() - t0) / 1000, s };
}

function numpySteps(
  s0: NBodyState,
  dt: number,
  steps: number,
): { seconds: number; x: number[] } | string {
  const r = spawnSync('/usr/bin/python3', ['-c', NUMPY_LEAPFROG], {
    input: JSON.stringify({
      x: Array.from(s0.x),
      v: Array.from(s0.v),
      m: Array.from(s0.m),
      eps: s0.eps,
      dt,
      steps,
    }),
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0)
    return `numpy unavailable (${(r.stderr || String(r.error)).trim().split('\n').at(-1) ?? ''})`;
  return JSON.parse(r.stdout) as { seconds: number; x: number[] };
}

function integratorRow(label: string, s0: NBodyState, dt: number, steps: number): void {
  tsSteps(s0, dt, Math.min(steps, 2000));
  const ts = tsSteps(s0, dt, steps);
  const np = numpySteps(s0, dt, steps);
  const tsRate = steps / ts.seconds;
  const drift = Math.abs(totalEnergy(ts.s, 0) - totalEnergy(s0, 0)) / Math.abs(totalEnergy(s0, 0));
  if (typeof np === 'string') {
    console.log(`${label}: TypeScript ${tsRate.toExponential(3)} steps/s; ${np}`);
    return;
  }
  const npRate = steps / np.seconds;
  let maxDiff = 0;
  np.x.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - (ts.s.x[i] as number)))));
  console.log(
    `${label}: TypeScript ${tsRate.toExponential(3)} steps/s, NumPy ${npRate.toExponential(3)} steps/s, ratio TS/NumPy ${(tsRate / npRate).toFixed(2)}x; ` +
      `${steps} steps of dt=${dt}, |ΔE/E0| ${drift.toExponential(2)}, max |x_TS − x_NumPy| ${maxDiff.toExponential(2)}`,
  );
}

async function trainingRow(label: string, config: TrainConfig, epochs: number): Promise<void> {
  const t = new TimestepTrainer(config, 1);
  await t.epoch();
  const t0 = performance.now();
  let retrains = 0;
  let replay = 0;
  const opt0 = t.optimizer.step;
  for (let e = 0; e < epochs; e++) {
    const m = await t.epoch();
    retrains += m.retrains;
    replay += m.replayUpdates;
  }
  const s = (performance.now() - t0) / 1000;
  const accepted = epochs * config.part1.stepsPerEpoch * config.batch;
  const rollouts = replay * config.part2.batch * config.part2.rollout;
  console.log(
    `training ${label}: ${(epochs / s).toFixed(2)} epochs/s, ${(accepted / s).toFixed(0)} accepted Part-1 steps/s, ` +
      `${(rollouts / s).toFixed(0)} Part-2 rollout steps/s, ${((t.optimizer.step - opt0) / s).toFixed(1)} optimizer steps/s (${retrains} retrains) over ${s.toFixed(2)} s`,
  );
  t.dispose();
}

/** `pnpm bench timestepper [--quick]`: leapfrog steps/s (N = 3, 100) vs NumPy, and training throughput. */
export async function main(args: string[]): Promise<void> {
  const quick = args.includes('--quick');
  const info = await initBackend((process.env['X_BACKEND'] as 'auto' | undefined) ?? 'auto');
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, node ${process.version}, tfjs backend ${info.name}`,
  );
  integratorRow(
    'N = 3 (figure-eight)',
    createState(makeProblem('figure8').ic),
    1e-3,
    quick ? 20_000 : 200_000,
  );
  integratorRow(
    'N = 100 (Plummer, ε = 0.01)',
    createState(makeProblem('plummer').ic),
    1e-3,
    quick ? 200 : 2_000,
  );
  await trainingRow(
    'kepler (defaults, analytic features)',
    { ...defaultTrainConfig, problem: 'kepler' },
    quick ? 3 : 10,
  );
  await trainingRow(
    'figure8 (history K = 4)',
    {
      ...defaultTrainConfig,
      problem: 'figure8',
      model: { ...defaultTrainConfig.model, historyLen: 4 },
    },
    quick ? 3 : 10,
  );
  await trainingRow(
    'plummer N = 100',
    { ...defaultTrainConfig, problem: 'plummer' },
    quick ? 1 : 3,
  );
}
