import { initBackend } from '@x/tensor';
import {
  TimestepTrainer,
  defaultTrainConfig,
  createState,
  integrate,
  learnedRule,
  symmetricRule,
} from '@x/timestepper';

await initBackend('cpu');
const trainer = new TimestepTrainer(
  { ...defaultTrainConfig, problem: 'figure8', symmetric: true },
  1,
);
// two epochs to show the API; `runner timestepper train` runs ~60 for a useful model
for (let e = 0; e < 2; e++) console.log(await trainer.epoch()); // retrains, rejects, accepted error, …
const s0 = createState(trainer.problem.ic);
const learned = integrate(s0, learnedRule(trainer.model, 0, { symmetric: true }), {
  tEnd: trainer.problem.tEnd,
});
const classic = integrate(s0, symmetricRule(0.02), { tEnd: trainer.problem.tEnd });
console.log(
  learned.forceEvals,
  learned.maxRelEnergyError,
  classic.forceEvals,
  classic.maxRelEnergyError,
);
