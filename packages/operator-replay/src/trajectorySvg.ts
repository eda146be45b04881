import type { RolloutResult } from './rollout.js';

const VIRIDIS = [
  '#440154',
  '#482878',
  '#3e4a89',
  '#31688e',
  '#26828e',
  '#1f9e89',
  '#35b779',
  '#6ece58',
  '#b5de2b',
  '#fde725',
];

function color(t: number): string {
  if (!Number.isFinite(t)) return '#cccccc';
  const i = Math.min(VIRIDIS.length - 1, Math.max(0, Math.floor(t * VIRIDIS.length)));
  return VIRIDIS[i] as string;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a === 0 || (a >= 1e-3 && a < 1e5)) return String(Number(v.toPrecision(3)));
  return v.toExponential(2).replace('e+', 'e');
}

/** Options of {@link trajectorySvg}. */
export interface TrajectorySvgOptions {
  /** Frames shown (evenly spaced over time, default up to 8). */
  frames?: number;
  /** Pixel size of one grid cell (default 4). */
  cell?: number;
  /** Field channel drawn (default 0). */
  channel?: number;
  title?: string;
}

/**
 * An SVG film strip of one operator's fields over time: one row per realization, one frame per
 * chosen timestep, one channel, a shared colour range per row shown by a colour bar with its
 * value range.
 */
export function trajectorySvg(rollout: RolloutResult, options: TrajectorySvgOptions = {}): string {
  const [m, t, c, h, w] = rollout.shape;
  const ch = Math.min(Math.max(0, options.channel ?? 0), c - 1);
  const cell = options.cell ?? 4;
  const nf = Math.min(t, options.frames ?? 8);
  const steps = Array.from({ length: nf }, (_, i) =>
    Math.round((i * (t - 1)) / Math.max(1, nf - 1)),
  );
  const gap = 6;
  const left = 34;
  const top = 40;
  const rowH = Math.max(h * cell, 48);
  const barW = 70;
  const width = left + nf * (w * cell + gap) + barW;
  const height = top + m * (rowH + gap) + 18;
  const title = options.title ?? `operator ${rollout.index}`;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="10">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${gap}" y="15" font-size="12" font-weight="600">${esc(title)}: field channel ${ch} of ${c}, ${m} realization${m === 1 ? '' : 's'}</text>`,
  ];
  steps.forEach((s, k) => {
    const x0 = left + k * (w * cell + gap);
    parts.push(
      `<text class="frame-label" x="${x0 + (w * cell) / 2}" y="${top - 6}" text-anchor="middle">t=${s}</text>`,
    );
  });
  parts.push(
    `<text class="axis-label" x="${left + (nf * (w * cell + gap)) / 2}" y="${height - 4}" text-anchor="middle">time step t (of ${t}); colour = field value, shared range per row</text>`,
  );
  for (let r = 0; r < m; r++) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const s of steps) {
      const base = ((r * t + s) * c + ch) * h * w;
      for (let i = 0; i < h * w; i++) {
        const v = rollout.trajectory[base + i] as number;
        if (Number.isFinite(v)) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
      }
    }
    if (!Number.isFinite(lo)) [lo, hi] = [0, 1];
    const span = hi > lo ? hi - lo : 1;
    const y0 = top + r * (rowH + gap);
    parts.push(
      `<text class="row-label" transform="translate(${left - 8} ${y0 + rowH / 2}) rotate(-90)" text-anchor="middle">realization ${r}</text>`,
    );
    steps.forEach((s, k) => {
      const x0 = left + k * (w * cell + gap);
      const base = ((r * t + s) * c + ch) * h * w;
      for (let i = 0; i < h; i++)
        for (let j = 0; j < w; j++) {
          const v = rollout.trajectory[base + i * w + j] as number;
          parts.push(
            `<rect x="${x0 + j * cell}" y="${y0 + i * cell}" width="${cell}" height="${cell}" fill="${color((v - lo) / span)}"/>`,
          );
        }
    });
    const bx = left + nf * (w * cell + gap) + 4;
    const n = VIRIDIS.length;
    parts.push('<g class="colorbar">');
    for (let k = 0; k < n; k++)
      parts.push(
        `<rect x="${bx}" y="${(y0 + (rowH * k) / n).toFixed(1)}" width="10" height="${(rowH / n + 0.5).toFixed(1)}" fill="${VIRIDIS[n - 1 - k] as string}"/>`,
      );
    parts.push(
      `<rect x="${bx}" y="${y0}" width="10" height="${rowH}" fill="none" stroke="#666"/>`,
      `<text class="colorbar-tick" x="${bx + 14}" y="${y0 + 8}">${esc(fmt(hi))}</text>`,
      `<text class="colorbar-tick" x="${bx + 14}" y="${y0 + rowH / 2 + 3}">${esc(fmt((lo + hi) / 2))}</text>`,
      `<text class="colorbar-tick" x="${bx + 14}" y="${y0 + rowH}">${esc(fmt(lo))}</text>`,
      '</g>',
    );
  }
  parts.push('</svg>');
  return parts.join('\n');
}
