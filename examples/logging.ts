import { TrajectoryLogger, createRunLogger } from '@x/logging';

const runDir = 'runs/logging-example';
const config = { lr: 1e-3 }; // written to <runDir>/config.yaml; its `logging:` section configures sinks
const logger = createRunLogger({ runDir, pipeline: 'example', config, totalSteps: 100 });
try {
  for (let step = 0; step < 100; step++) {
    const loss = 1 / (1 + step);
    logger.log({ loss, gradNorm: 2 * loss }, { step }); // → train/loss, train/gradNorm
    if (step % 10 === 0) logger.log({ acc: 1 - loss }, { step, category: 'eval' }); // same row
    logger.logBatch({
      updateStep: step,
      episodeReturns: [1, 2, 3, step],
      successMask: [true, false, true, true],
    }); // batched: aggregates + deterministic samples
  }
} finally {
  await logger.close({ exitCode: 0, preempting: false }); // flushes every sink
}

// Optimization trajectories to .npz (numpy.load opens them). States are arrays, typed arrays or
// tensors (anything with dataSync()); `transform` gives them their logical shape.
const traj = new TrajectoryLogger({ transform: (s) => ({ data: s.data, shape: [9, 9, 9] }) });
const id = traj.init('sudoku_001', { difficulty: 'hard', landscapeIdx: 0 });
for (let i = 0; i < 5; i++) {
  const state = new Float32Array(9 * 9 * 9).fill(i);
  traj.append(id, { state, energy: 10 - i, step: i, success: i === 4 }); // deep copies
}
await traj.save(id, `${runDir}/trajectories/sudoku_001.npz`);
console.log(`logged to ${runDir}: logs/metrics.jsonl, logs/tb/, svg/, trajectories/`);
