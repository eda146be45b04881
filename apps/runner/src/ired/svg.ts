import type { Grid, StepEvent } from '@x/ired';
import { lineChartSvg, panelsSvg, svgEscape as esc } from '@x/logging';

const COLORS = {
  given: { fill: '#eeeeee', text: '#000000' },
  correct: { fill: '#e6f4ea', text: '#137333' },
  wrong: { fill: '#fde8e8', text: '#c5221f' },
};

/**
 * A Sudoku board as SVG: givens in black on grey, predicted digits in green when correct and red
 * when wrong (with the solution's digit small in the corner), and a legend saying so.
 */
export function boardSvg(
  quiz: Grid,
  prediction: Grid,
  solution: Grid | undefined,
  title: string,
): string {
  const cell = 36;
  const pad = 8;
  const top = 28;
  const size = cell * 9;
  const legendH = 44;
  const W = size + 2 * pad;
  const H = size + top + pad + legendH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${pad}" y="18" font-size="13" font-weight="600">${esc(title)}</text>`,
  ];
  for (let i = 0; i < 81; i++) {
    const x = pad + (i % 9) * cell;
    const y = top + Math.floor(i / 9) * cell;
    const given = quiz[i] !== 0;
    const p = prediction[i] as number;
    const ok = solution === undefined || solution[i] === p;
    const c = given ? COLORS.given : ok ? COLORS.correct : COLORS.wrong;
    parts.push(
      `<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${c.fill}" stroke="#999" stroke-width="0.5"/>`,
    );
    parts.push(
      `<text x="${x + cell / 2}" y="${y + cell * 0.7}" font-size="20" text-anchor="middle" fill="${c.text}"${given ? ' font-weight="bold"' : ''}>${p}</text>`,
    );
    if (!given && !ok && solution !== undefined)
      parts.push(
        `<text x="${x + 3}" y="${y + 11}" font-size="9" fill="#555">${solution[i]}</text>`,
      );
  }
  for (let k = 0; k <= 9; k += 3) {
    parts.push(
      `<line x1="${pad + k * cell}" y1="${top}" x2="${pad + k * cell}" y2="${top + size}" stroke="#000" stroke-width="2"/>`,
    );
    parts.push(
      `<line x1="${pad}" y1="${top + k * cell}" x2="${pad + size}" y2="${top + k * cell}" stroke="#000" stroke-width="2"/>`,
    );
  }
  const entries: [keyof typeof COLORS, string][] = [
    ['given', 'given (bold)'],
    ['correct', 'predicted, correct'],
    ['wrong', solution === undefined ? 'predicted, wrong' : 'predicted, wrong (corner: solution)'],
  ];
  const ly = top + size + 12;
  entries.forEach(([k, label], i) => {
    const x = pad + (i === 2 ? 0 : i * 150);
    const y = ly + (i === 2 ? 18 : 0);
    parts.push(
      `<rect x="${x}" y="${y}" width="14" height="14" fill="${COLORS[k].fill}" stroke="#999"/>`,
      `<text x="${x + 7}" y="${y + 11}" font-size="10" text-anchor="middle" fill="${COLORS[k].text}">5</text>`,
      `<text class="legend" x="${x + 20}" y="${y + 11}" font-size="11">${esc(label)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

interface LandscapeTrace {
  order: number;
  /** Sum and count of board energies after the denoising step. */
  denoise: [number, number];
  /** Per optimisation step: sums and counts of attempted and accepted energies, rejections. */
  attempted: [number, number][];
  accepted: [number, number][];
  rejected: number[];
}

const mean = (s: [number, number] | undefined) =>
  s === undefined || s[1] === 0 ? NaN : s[0] / s[1];

/**
 * Collects the sampler's step events (pass it as `hooks.onStep`, or call {@link add} from one)
 * and draws the energy descent within each landscape: the mean energy after the denoising step,
 * then per optimisation step the attempted (proposed) and accepted (kept) energies.
 */
export class EnergyDescent {
  private readonly traces = new Map<number, LandscapeTrace>();

  /** Records one sampler step event. */
  add(e: StepEvent): void {
    let tr = this.traces.get(e.landscape);
    if (tr === undefined) {
      tr = { order: e.landscapeOrder, denoise: [0, 0], attempted: [], accepted: [], rejected: [] };
      this.traces.set(e.landscape, tr);
    }
    let sum = 0;
    for (const v of e.energy) sum += v;
    const n = e.energy.length;
    if (e.kind === 'denoise') {
      tr.denoise = [tr.denoise[0] + sum, tr.denoise[1] + n];
      return;
    }
    const list = e.kind === 'attempted' ? tr.attempted : tr.accepted;
    const cur = list[e.step] ?? [0, 0];
    list[e.step] = [cur[0] + sum, cur[1] + n];
    if (e.kind === 'attempted') {
      let r = 0;
      for (const v of e.rejected) r += v;
      tr.rejected[e.step] = (tr.rejected[e.step] ?? 0) + r;
    }
  }

  /** Landscapes seen so far. */
  get size(): number {
    return this.traces.size;
  }

  /** One panel per landscape (in sampling order), each with its own energy axis. */
  svg(title: string): string {
    const panels = [...this.traces.entries()]
      .sort((a, b) => a[1].order - b[1].order)
      .map(([t, tr]) => {
        const k = Math.max(tr.accepted.length, tr.attempted.length);
        const xs = Array.from({ length: k + 1 }, (_, i) => i);
        const accepted = [mean(tr.denoise), ...xs.slice(1).map((i) => mean(tr.accepted[i - 1]))];
        const attempted = [NaN, ...xs.slice(1).map((i) => mean(tr.attempted[i - 1]))];
        let rejected = 0;
        let tried = 0;
        for (let i = 0; i < k; i++) {
          rejected += tr.rejected[i] ?? 0;
          tried += tr.attempted[i]?.[1] ?? 0;
        }
        const pct = tried === 0 ? '' : `, ${((100 * rejected) / tried).toFixed(0)}% rejected`;
        return lineChartSvg(
          [
            { name: 'accepted (kept)', x: xs, y: accepted, marker: 'circle' },
            { name: 'attempted', x: xs, y: attempted, marker: 'cross', dashed: true },
          ],
          {
            title: `landscape t=${t}${pct}`,
            xLabel: 'step in landscape (0 = after denoising)',
            yLabel: 'mean energy E',
            width: 360,
            height: 240,
          },
        );
      });
    return panelsSvg(panels, { columns: 3, title });
  }
}
