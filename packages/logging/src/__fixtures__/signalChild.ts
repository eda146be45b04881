import { setImmediate as tick } from 'node:timers/promises';
import { createRunLogger } from '../runLogger.js';

const runDir = process.argv[2] as string;
const crashAt = process.argv[3] === 'crash' ? 50 : -1;
const logger = createRunLogger({
  runDir,
  pipeline: 'child',
  config: { seed: 1, logging: { sinks: { svg: { enabled: false } } } },
  totalSteps: 1_000_000,
  quiet: true,
  wandb: false,
});
for (let step = 0; ; step++) {
  logger.log({ loss: 1 / (step + 1), big: step === 7 ? Infinity : step }, { step });
  logger.log({ acc: 0.5 }, { step, category: 'eval' });
  if (step === 200) process.stdout.write('ready\n');
  if (step === crashAt)
    setTimeout(() => {
      throw new Error('boom');
    }, 0);
  await tick();
}
