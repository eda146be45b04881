import type { StepEvent } from '@x/ired';
import { describe, expect, it } from 'vitest';
import { EnergyDescent, boardSvg } from './svg.js';

function texts(svg: string, cls: string): string[] {
  return [...svg.matchAll(new RegExp(`<text class="${cls}"[^>]*>([^<]*)</text>`, 'g'))].map(
    (m) => m[1] as string,
  );
}

function event(
  kind: StepEvent['kind'],
  landscape: number,
  step: number,
  energy: number[],
  rejected: number[] = energy.map(() => 0),
): StepEvent {
  return {
    kind,
    restart: 0,
    landscape,
    landscapeOrder: 1 - landscape,
    step,
    state: new Float32Array(0),
    scale: 1,
    energy: Float32Array.from(energy),
    rejected: Uint8Array.from(rejected),
    valid: new Uint8Array(energy.length),
  };
}

describe('IRED pictures', () => {
  it('a board shows givens, right and wrong digits and a legend for them', () => {
    const quiz = new Uint8Array(81);
    quiz[0] = 5;
    const solution = Uint8Array.from({ length: 81 }, (_, i) => (i % 9) + 1);
    const prediction = Uint8Array.from(solution);
    prediction[0] = 5;
    prediction[1] = 9; // wrong: the solution says 2
    const svg = boardSvg(quiz, prediction, solution, 'puzzle 0');
    expect(texts(svg, 'legend')).toEqual([
      'given (bold)',
      'predicted, correct',
      'predicted, wrong (corner: solution)',
    ]);
    expect(svg.match(/fill="#c5221f">9</g)).toHaveLength(1);
    expect(svg).toContain('font-size="9" fill="#555">2</text>');
  });

  it('the energy chart shows the descent within each landscape, attempted and accepted', () => {
    const d = new EnergyDescent();
    for (const t of [1, 0]) {
      d.add(event('denoise', t, -1, [10 + t, 12 + t]));
      for (let i = 0; i < 3; i++) {
        d.add(event('attempted', t, i, [9 - i + t, 13 - i + t], [0, i === 2 ? 1 : 0]));
        d.add(event('final', t, i, [9 - i + t, 12 - i + t]));
      }
    }
    expect(d.size).toBe(2);
    const svg = d.svg('energy descent');
    expect(svg).toContain('>energy descent</text>');
    // one panel per landscape in sampling order (t=1 first), each saying how many steps were rejected
    const titles = [...svg.matchAll(/font-weight="600">(landscape [^<]*)</g)].map((m) => m[1]);
    expect(titles).toEqual(['landscape t=1, 17% rejected', 'landscape t=0, 17% rejected']);
    expect(texts(svg, 'legend')).toEqual([
      'accepted (kept)',
      'attempted',
      'accepted (kept)',
      'attempted',
    ]);
    expect(texts(svg, 'axis-label')).toContain('mean energy E');
    expect(texts(svg, 'axis-label')).toContain('step in landscape (0 = after denoising)');
    // accepted energies descend: after denoising 11.5 → 10 → 9 → 8 (landscape t=0, mean of two boards)
    expect(svg).toMatch(/<title>accepted \(kept\)<\/title><path d="M[^"]+"/);
  });
});
