import { XError, type Component } from '@x/core';
import { openRunCheckpoints } from '@x/checkpoint';

// Anything with getState()/setState() can be checkpointed; tensors travel as TensorData.
class Weights implements Component<{ w: number[] }> {
  w = [0, 0];
  getState() {
    return { w: [...this.w] };
  }
  setState(s: { w: number[] }) {
    this.w = [...s.w];
  }
}

async function train(resume: boolean): Promise<number> {
  const model = new Weights();
  const components = { model };
  const ckpt = openRunCheckpoints('runs/checkpoint-example', {
    saveEvery: 10,
    resume,
    retention: { keepLast: 2 },
    onWarning: (w) => console.warn(w),
  });
  let { step } = await ckpt.resume(components); // 0 for a fresh run
  while (step < 30) {
    model.w = model.w.map((v) => v + 0.5);
    step++;
    await ckpt.maybeSave(step, components, { metrics: { loss: 1 / step } }); // every 10 steps
  }
  await ckpt.finish(step, components, { metrics: { loss: 1 / step } }); // final + wait
  return model.w[0] ?? Number.NaN;
}

const fresh = await train(false);
const resumed = await train(true); // restores step 30 and its state bit for bit
if (fresh !== resumed)
  throw new XError('INTERNAL', `resume changed the state: ${fresh} ≠ ${resumed}`);
console.log(`trained to step 30, resumed with w[0] = ${resumed}`);
