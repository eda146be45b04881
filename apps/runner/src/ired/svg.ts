import type { Grid } from '@x/ired';
import { lineChartSvg } from '@x/logging';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/**
 * A Sudoku board as SVG: givens in black, predicted digits in green when correct and red when
 * wrong (with the solution's digit small in the corner).
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
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size + 2 * pad}" height="${size + top + pad}" viewBox="0 0 ${size + 2 * pad} ${size + top + pad}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${pad}" y="18" font-size="13">${esc(title)}</text>`,
  ];
  for (let i = 0; i < 81; i++) {
    const x = pad + (i % 9) * cell;
    const y = top + Math.floor(i / 9) * cell;
    const given = quiz[i] !== 0;
    const p = prediction[i] as number;
    const ok = solution === undefined || solution[i] === p;
    const fill = given ? '#eeeeee' : ok ? '#e6f4ea' : '#fde8e8';
    parts.push(
      `<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${fill}" stroke="#999" stroke-width="0.5"/>`,
    );
    const color = given ? '#000' : ok ? '#137333' : '#c5221f';
    parts.push(
      `<text x="${x + cell / 2}" y="${y + cell * 0.7}" font-size="20" text-anchor="middle" fill="${color}"${given ? ' font-weight="bold"' : ''}>${p}</text>`,
    );
    if (!given && !ok && solution !== undefined)
      parts.push(
        `<text x="${x + 3}" y="${y + 11}" font-size="9" fill="#555">${solution[i]}</text>`,
      );
  }
  for (let k = 0; k <= 9; k++) {
    const w = k % 3 === 0 ? 2 : 0;
    if (w === 0) continue;
    parts.push(
      `<line x1="${pad + k * cell}" y1="${top}" x2="${pad + k * cell}" y2="${top + size}" stroke="#000" stroke-width="${w}"/>`,
    );
    parts.push(
      `<line x1="${pad}" y1="${top + k * cell}" x2="${pad + size}" y2="${top + k * cell}" stroke="#000" stroke-width="${w}"/>`,
    );
  }
  parts.push('</svg>');
  return parts.join('\n');
}

/** Mean energy (over boards) after each optimisation step, one line per landscape t. */
export function energyStepsSvg(perLandscape: Map<number, number[]>, title: string): string {
  const series = [...perLandscape.entries()]
    .sort((a, b) => b[0] - a[0])
    .map(([t, ys]) => ({ name: `t=${t}`, x: ys.map((_, i) => i + 1), y: ys }));
  return lineChartSvg(series, {
    title,
    xLabel: 'optimisation step within the landscape',
    yLabel: 'mean energy (accepted)',
    logY: true,
  });
}
