import { RngStreams, ValueComponent } from '@x/core';
import { CheckpointManager } from '../manager.js';
import { Bag } from './components.js';

const [dir, mode] = process.argv.slice(2) as [string, string];
const mgr = new CheckpointManager(dir, {
  async: mode === 'async',
  retention: { keepLast: 3, keepEvery: 7, best: { metric: 'loss', mode: 'min' } },
});
const model = new Bag(1 << 18);
const counters = new ValueComponent({ step: 0 });
const rng = new RngStreams(1);
let step = ((await mgr.latest()) ?? -1) + 1;
process.stdout.write(`ready ${step}\n`);
for (;;) {
  model.fill(step);
  counters.value = { step };
  rng.get('data').uniform();
  await mgr.save(step, { model, counters, rng }, { metrics: { loss: Math.abs(Math.sin(step)) } });
  process.stdout.write(`saved ${step}\n`);
  step++;
}
