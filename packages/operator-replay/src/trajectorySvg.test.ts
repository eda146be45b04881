import { describe, expect, it } from 'vitest';
import type { RolloutResult } from './rollout.js';
import { trajectorySvg } from './trajectorySvg.js';

function texts(svg: string, cls: string): string[] {
  return [...svg.matchAll(new RegExp(`<text class="${cls}"[^>]*>([^<]*)</text>`, 'g'))].map(
    (m) => m[1] as string,
  );
}

describe('trajectorySvg', () => {
  it('draws a film strip per realization with the channel, frame times and a colour bar per row', () => {
    const shape: RolloutResult['shape'] = [2, 5, 2, 3, 3];
    const trajectory = new Float32Array(shape.reduce((a, b) => a * b, 1));
    // channel 1 of realization 0 spans -2..6; channel 0 is zero everywhere
    for (let s = 0; s < 5; s++)
      for (let i = 0; i < 9; i++) trajectory[((0 * 5 + s) * 2 + 1) * 9 + i] = -2 + 2 * s;
    const r: RolloutResult = { index: 7, ic: new Float32Array(0), trajectory, shape, hash: 'x' };
    const svg = trajectorySvg(r, { frames: 3, channel: 1 });
    expect(svg).toContain('operator 7: field channel 1 of 2, 2 realizations');
    expect(texts(svg, 'frame-label')).toEqual(['t=0', 't=2', 't=4']);
    expect(texts(svg, 'row-label')).toEqual(['realization 0', 'realization 1']);
    expect(svg.match(/<g class="colorbar">/g)).toHaveLength(2);
    expect(texts(svg, 'colorbar-tick').slice(0, 3)).toEqual(['6', '2', '-2']);
    expect(texts(svg, 'axis-label')[0]).toMatch(/^time step t \(of 5\)/);
    expect(svg.match(/<rect x="\d+" y="\d+" width="4" height="4"/g)).toHaveLength(2 * 3 * 9);
  });
});
