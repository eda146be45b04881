import { Rng } from '@x/core';
import { initBackend } from '@x/tensor';
import {
  IredTrainer,
  cpuPreset,
  generatePuzzles,
  sampleBoards,
  evaluateBoards,
  SATNET_GIVENS,
} from '@x/ired';

await initBackend('auto');
const trainer = new IredTrainer({ config: cpuPreset, seed: 0 });
// a few steps to show the API; the CPU preset learns in a few hundred (`runner ired train`)
for (let i = 0; i < 3; i++) console.log(await trainer.trainStep()); // { step, loss, mse, … }
const test = generatePuzzles(Rng.fromSeed(1), 4, SATNET_GIVENS);
const r = await trainer.withEmaWeights((p) =>
  sampleBoards(
    p,
    test.map((t) => t.quiz),
    {
      model: cpuPreset.model,
      schedule: trainer.schedule,
      optSteps: 2,
      restarts: 1,
      rng: Rng.fromSeed(2),
      hooks: { onStep: (e) => void e },
    },
  ),
);
const { metrics } = evaluateBoards(
  test.map((t) => t.quiz),
  test.map((t) => t.solution),
  r.predictions,
);
console.log(metrics);
