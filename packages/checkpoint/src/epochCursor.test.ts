import { describeComponentContract } from '@x/core/testing';
import { describe, expect, it } from 'vitest';
import { EpochCursor, type EpochCursorState } from './epochCursor.js';

describeComponentContract<EpochCursorState>('EpochCursor', {
  create: () => new EpochCursor(10, 3),
  mutate: (c) => void (c as EpochCursor).next(7),
  invalid: [
    { name: 'index out of range', make: (s) => ({ ...s, index: 10 }), path: 'index' },
    { name: 'other dataset size', make: (s) => ({ ...s, size: 11 }), path: 'size' },
    { name: 'other seed', make: (s) => ({ ...s, seed: 'x' }), path: 'seed' },
    { name: 'negative epoch', make: (s) => ({ ...s, epoch: -1 }), path: 'epoch' },
  ],
});

describe('EpochCursor', () => {
  it('visits every example once per epoch, in a seed-determined order that changes per epoch', () => {
    const c = new EpochCursor(10, 1);
    const e0 = c.next(10);
    const e1 = c.next(10);
    expect([...e0].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(e1).not.toEqual(e0);
    expect(c.epoch).toBe(2);
    expect(new EpochCursor(10, 1).next(20)).toEqual([...e0, ...e1]);
    expect(new EpochCursor(4, 1, { shuffle: false }).next(6)).toEqual([0, 1, 2, 3, 0, 1]);
  });

  it('a restored cursor continues with exactly the same batches, whatever the batch sizes', () => {
    const a = new EpochCursor(13, 'run');
    a.next(9);
    const b = new EpochCursor(13, 'run');
    b.setState(a.getState());
    expect(b.next(5).concat(b.next(11))).toEqual(a.next(16));
  });
});
