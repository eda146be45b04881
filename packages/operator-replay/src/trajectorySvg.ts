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

/** Options of {@link trajectorySvg}. */
export interface TrajectorySvgOptions {
  /** Frames shown (evenly spaced over time, default up to 8). */
  frames?: number;
  /** Pixel size of one grid cell (default 4). */
  cell?: number;
  title?: string;
}

/**
 * An SVG film strip of one operator's fields over time: one row per realization, one frame per
 * chosen timestep, channel 0, a shared color range per row.
 */
export function trajectorySvg(rollout: RolloutResult, options: TrajectorySvgOptions = {}): string {
  const [m, t, c, h, w] = rollout.shape;
  const cell = options.cell ?? 4;
  const nf = Math.min(t, options.frames ?? 8);
  const steps = Array.from({ length: nf }, (_, i) =>
    Math.round((i * (t - 1)) / Math.max(1, nf - 1)),
  );
  const gap = 6;
  const top = 22;
  const width = nf * (w * cell + gap) + gap;
  const height = top + m * (h * cell + gap + 12);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="10">`,
    `<text x="${gap}" y="14" font-size="12">${options.title ?? `operator ${rollout.index}`}</text>`,
  ];
  for (let r = 0; r < m; r++) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const s of steps) {
      const base = ((r * t + s) * c + 0) * h * w;
      for (let i = 0; i < h * w; i++) {
        const v = rollout.trajectory[base + i] as number;
        if (Number.isFinite(v)) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
      }
    }
    const span = hi > lo ? hi - lo : 1;
    const y0 = top + r * (h * cell + gap + 12);
    steps.forEach((s, k) => {
      const x0 = gap + k * (w * cell + gap);
      parts.push(`<text x="${x0}" y="${y0 + 9}">r${r} t=${s}</text>`);
      const base = ((r * t + s) * c + 0) * h * w;
      for (let i = 0; i < h; i++)
        for (let j = 0; j < w; j++) {
          const v = rollout.trajectory[base + i * w + j] as number;
          parts.push(
            `<rect x="${x0 + j * cell}" y="${y0 + 12 + i * cell}" width="${cell}" height="${cell}" fill="${color((v - lo) / span)}"/>`,
          );
        }
    });
  }
  parts.push('</svg>');
  return parts.join('\n');
}
