import { isXError, stateDigest, statesEqual, tensorData, type State } from '@x/core';
import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';
import { joinState, splitState } from './stateTree.js';

function roundTrip(state: State): State {
  const { tree, tensors } = splitState(state);
  const file = decodeSafetensors(encodeSafetensors(tensors));
  return joinState(JSON.parse(JSON.stringify(tree)), file.tensors, 'test');
}

describe('state tree split/join', () => {
  it('round-trips colliding paths, $ keys, __proto__, special numbers and nested arrays exactly', () => {
    const state: State = JSON.parse('{"__proto__": {"x": 1}}') as State;
    Object.assign(state as object, {
      'a/b': tensorData('float32', [1], [1]),
      a: { b: tensorData('float32', [1], [2]) },
      __metadata__: tensorData('uint8', [1], [3]),
      '': tensorData('int32', [], [4]),
      $tensor: 'a string, not a reference',
      wrapped: { $object: { $number: 'NaN' } },
      nums: [NaN, -0, Infinity, -Infinity, 1e-320, 2 ** 53],
      nested: [[{ t: tensorData('float64', [2], [0.1, -0]) }], [], null, true, 'ü'],
    });
    const back = roundTrip(state);
    for (const k of Object.keys(state as object)) {
      expect(
        statesEqual(
          (back as Record<string, State>)[k] as State,
          (state as Record<string, State>)[k] as State,
        ),
        k,
      ).toBe(true);
    }
    expect(statesEqual(back, state)).toBe(true);
    expect(stateDigest(back)).toBe(stateDigest(state));
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.keys(back as object)).toContain('__proto__');
    const { tensors } = splitState(state);
    expect([...tensors.keys()].sort()).toEqual([
      '<root>',
      '__metadata__#1',
      'a/b',
      'a/b#2',
      'nested/0/0/t',
    ]);
  });

  it('rejects skeletons that reference missing, duplicate or unreferenced tensors, naming the path', () => {
    const t = new Map([['w', tensorData('float32', [1], [1])]]);
    const bad = (tree: unknown, tensors = t) => {
      try {
        joinState(tree, tensors, 'state.json');
      } catch (err) {
        expect(isXError(err, 'INVALID_INPUT')).toBe(true);
        return (err as Error).message;
      }
      return 'accepted';
    };
    expect(bad({ m: { $tensor: 'nope' }, w: { $tensor: 'w' } })).toMatch(
      /m: tensor "nope" is not in/,
    );
    expect(bad({ a: { $tensor: 'w' }, b: { $tensor: 'w' } })).toMatch(
      /b: tensor "w" is referenced twice/,
    );
    expect(bad({})).toMatch(/"w" of state.safetensors is not referenced/);
    expect(bad({ x: { $number: 'pi' } }, new Map())).toMatch(/x: unknown \$number/);
    expect(bad({ x: { $weird: 1 } }, new Map())).toMatch(/x: unexpected key/);
  });
});
