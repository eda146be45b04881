import { tensorData, type State } from '@x/core';

/** The state stored in the committed format-v1 fixture checkpoint (`v1/step-00000007`). */
export function fixtureState(): Record<string, State> {
  return {
    model: {
      'conv1/kernel': tensorData('float32', [2, 2, 1, 2], [0.5, -1.25, 3, 4, 5, 6, 7, -0]),
      head: { bias: tensorData('float64', [3], [NaN, Infinity, 1e-300]) },
    },
    optimizer: {
      step: 7,
      m: { w: tensorData('float32', [0]) },
      flags: tensorData('bool', [2], [1, 0]),
    },
    data: {
      epoch: 1,
      index: 3,
      ids: tensorData('int32', [2], [-5, 2 ** 31 - 1]),
      raw: tensorData('uint8', [1], [255]),
    },
    trainer: {
      step: 7,
      best: -0,
      worst: -Infinity,
      note: 'ünïcode',
      $special: { $tensor: 'not a ref' },
      list: [1, null, true],
    },
  };
}
