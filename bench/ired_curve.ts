import { loadavg } from 'node:os';
import { Rng, type TensorData } from '../packages/core/src/index.js';
import {
  cosineSchedule,
  cpuPreset,
  evaluateBoards,
  generatePuzzles,
  initParams,
  IredTrainer,
  sampleBoards,
  SATNET_GIVENS,
  type Puzzle,
} from '../packages/ired/src/index.js';
import { initBackend } from '../packages/tensor/src/index.js';

function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}

/**
 * `pnpm bench ired_curve [--minutes 30] [--every 180] [--heldout 200] [--ttc 50]`: the learning
 * curve of the CPU default (EMA weights) on held-out generated puzzles (31–42 givens) against
 * wall time and steps, then the effect of optimisation steps and restarts at test time.
 */
export async function main(args: string[]): Promise<void> {
  const minutes = flag(args, 'minutes', 30);
  const every = flag(args, 'every', 180);
  const heldout = generatePuzzles(
    Rng.fromSeed(12345).stream('heldout'),
    flag(args, 'heldout', 200),
    SATNET_GIVENS,
  );
  const info = await initBackend('auto');
  const w = (s: string) => process.stdout.write(`${s}\n`);
  w(
    `ired learning curve: cpu preset, backend ${info.name}, ${minutes} min, load ${loadavg()[0]?.toFixed(1)}`,
  );
  const trainer = new IredTrainer({ config: cpuPreset, seed: 0 });
  const snaps: { step: number; wall: number; ema: Record<string, TensorData> }[] = [];
  const t0 = performance.now();
  let next = 0;
  for (;;) {
    const wall = (performance.now() - t0) / 1000;
    if (wall >= next) {
      snaps.push({ step: trainer.step, wall, ema: await trainer.ema.getState() });
      next += every;
    }
    if (wall >= minutes * 60) break;
    await trainer.trainStep();
  }
  snaps.push({
    step: trainer.step,
    wall: (performance.now() - t0) / 1000,
    ema: await trainer.ema.getState(),
  });
  trainer.dispose();
  const schedule = cosineSchedule(cpuPreset.diffusion.landscapes);
  const score = async (
    ema: Record<string, TensorData>,
    puzzles: Puzzle[],
    optSteps: number,
    restarts: number,
  ) => {
    const params = initParams(cpuPreset.model, Rng.fromSeed(0));
    params.setState(ema);
    const preds: Uint8Array[] = [];
    for (let s = 0; s < puzzles.length; s += 25) {
      const b = puzzles.slice(s, s + 25);
      const r = await sampleBoards(
        params.record(),
        b.map((p) => p.quiz),
        {
          model: cpuPreset.model,
          schedule,
          optSteps,
          restarts,
          rng: Rng.fromSeed(7),
          ids: b.map((_, i) => s + i),
        },
      );
      preds.push(...r.predictions);
    }
    params.dispose();
    return evaluateBoards(
      puzzles.map((p) => p.quiz),
      puzzles.map((p) => p.solution),
      preds,
    ).metrics;
  };
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  w(
    `\nheld-out ${heldout.length} puzzles, EMA weights, 0 optimisation steps per landscape (denoising only):`,
  );
  w('  wall s   step   blank-cell acc   board acc   consistent');
  for (const s of snaps) {
    const m = await score(s.ema, heldout, 0, 1);
    w(
      `  ${s.wall.toFixed(0).padStart(6)} ${String(s.step).padStart(6)}   ${pct(m.blankCellAccuracy).padStart(14)}   ${pct(m.boardAccuracy).padStart(9)}   ${pct(m.consistency).padStart(10)}`,
    );
  }
  const last = snaps[snaps.length - 1] as (typeof snaps)[number];
  const sub = heldout.slice(0, flag(args, 'ttc', 50));
  w(
    `\ntest-time compute, final EMA weights (step ${last.step}), first ${sub.length} held-out puzzles:`,
  );
  for (const [optSteps, restarts] of [
    [0, 1],
    [5, 1],
    [20, 1],
    [5, 4],
  ] as const) {
    const m = await score(last.ema, sub, optSteps, restarts);
    w(
      `  opt steps ${String(optSteps).padStart(2)}, restarts ${restarts}: blank-cell ${pct(m.blankCellAccuracy)}, board ${pct(m.boardAccuracy)}, consistent ${pct(m.consistency)}`,
    );
  }
}
