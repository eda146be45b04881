import { describe, expect, it } from 'vitest';
import { suggest } from './suggest.js';

describe('suggest', () => {
  it('finds the closest candidate within one edit per three characters', () => {
    expect(suggest('stepz', ['seed', 'steps', 'save-every'])).toBe('steps');
    expect(suggest('stpes', ['seed', 'steps'])).toBe('steps'); // adjacent swap is one edit
    expect(suggest('ird', ['ired', 'timestepper'])).toBe('ired');
    expect(suggest('model.chanels', ['model.channels', 'model.blocks'])).toBe('model.channels');
    expect(suggest('TRAIN', ['train', 'sample'])).toBe('train');
  });

  it('returns undefined when nothing is close', () => {
    expect(suggest('nope', ['doctor', 'ired', 'quickstart'])).toBeUndefined();
    expect(suggest('x', ['steps'])).toBeUndefined();
    expect(suggest('steps', [])).toBeUndefined();
  });

  it('prefers the nearest, then the earlier candidate', () => {
    expect(suggest('seeds', ['steps', 'seed'])).toBe('seed');
    expect(suggest('abd', ['abc', 'abe'])).toBe('abc');
  });
});
