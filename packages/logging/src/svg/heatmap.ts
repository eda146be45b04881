import { FONT, esc, fmt, niceTicks } from './svgText.js';

/** Options of {@link heatmapSvg}. */
export interface HeatmapOptions {
  /** Pixel size of one cell (default: fits 480 px wide). */
  cellSize?: number;
  title?: string;
  /** Color range; default the finite min/max of the data. */
  min?: number;
  max?: number;
  /** `viridis` (default), `gray`, or `diverging` (blue–white–red around 0). */
  colormap?: 'viridis' | 'gray' | 'diverging';
  /** Draw a color bar with the range. Default true. */
  colorbar?: boolean;
  /** What the colors mean, written beside the color bar (e.g. `channel 0`, `u (m/s)`). */
  colorbarLabel?: string;
}

const VIRIDIS = [
  [68, 1, 84],
  [72, 40, 120],
  [62, 74, 137],
  [49, 104, 142],
  [38, 130, 142],
  [31, 158, 137],
  [53, 183, 121],
  [110, 206, 88],
  [181, 222, 43],
  [253, 231, 37],
];

function hex(r: number, g: number, b: number): string {
  return `#${[r, g, b].map((c) => Math.round(c).toString(16).padStart(2, '0')).join('')}`;
}

/** The color of `t` in [0, 1] on a colormap. */
export function colormap(t: number, name: HeatmapOptions['colormap'] = 'viridis'): string {
  if (!Number.isFinite(t)) return '#cccccc';
  const u = Math.min(1, Math.max(0, t));
  if (name === 'gray') return hex(255 * u, 255 * u, 255 * u);
  if (name === 'diverging') {
    return u < 0.5
      ? hex(59 + (255 - 59) * u * 2, 76 + (255 - 76) * u * 2, 192 + (255 - 192) * u * 2)
      : hex(
          255 - (255 - 180) * (u - 0.5) * 2,
          255 - 255 * (u - 0.5) * 2,
          255 - (255 - 38) * (u - 0.5) * 2,
        );
  }
  const f = u * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(f));
  const a = VIRIDIS[i] as number[];
  const b = VIRIDIS[i + 1] as number[];
  const w = f - i;
  return hex(
    (a[0] as number) + ((b[0] as number) - (a[0] as number)) * w,
    (a[1] as number) + ((b[1] as number) - (a[1] as number)) * w,
    (a[2] as number) + ((b[2] as number) - (a[2] as number)) * w,
  );
}

/**
 * A vertical color bar at (x, y), `h` high, for values lo..hi: gradient, ticks with values (the
 * ends always labelled) and an optional label. Used by every heat map.
 */
export function colorbarSvg(
  x: number,
  y: number,
  h: number,
  lo: number,
  hi: number,
  opts: Pick<HeatmapOptions, 'colormap' | 'colorbarLabel'> = {},
): string {
  const out: string[] = ['<g class="colorbar">'];
  const steps = 24;
  for (let k = 0; k < steps; k++) {
    out.push(
      `<rect x="${x}" y="${(y + (h * k) / steps).toFixed(1)}" width="12" height="${(h / steps + 0.5).toFixed(1)}" fill="${colormap(1 - (k + 0.5) / steps, opts.colormap)}"/>`,
    );
  }
  out.push(`<rect x="${x}" y="${y}" width="12" height="${h}" fill="none" stroke="#666"/>`);
  const span = hi > lo ? hi - lo : 1;
  const at = (v: number) => y + h - ((v - lo) / span) * h;
  const inner = niceTicks(lo, hi, 4).filter(
    (v) => Math.abs(at(v) - y) > 10 && Math.abs(at(v) - y - h) > 10,
  );
  for (const v of [hi, ...inner, lo]) {
    const ty = at(v).toFixed(1);
    out.push(
      `<line x1="${x + 12}" x2="${x + 16}" y1="${ty}" y2="${ty}" stroke="#444"/>`,
      `<text class="colorbar-tick" x="${x + 18}" y="${ty}" dominant-baseline="middle" fill="#444" shape-rendering="auto">${esc(fmt(v))}</text>`,
    );
  }
  if (opts.colorbarLabel !== undefined)
    out.push(
      `<text class="colorbar-label" transform="translate(${x - 4} ${y + h / 2}) rotate(-90)" text-anchor="middle" fill="#444" shape-rendering="auto">${esc(opts.colorbarLabel)}</text>`,
    );
  out.push('</g>');
  return out.join('');
}

/**
 * A self-contained SVG heatmap of a matrix (rows of numbers; non-finite cells are gray).
 *
 * @example
 * const svg = heatmapSvg([[0, 1], [2, 3]], { title: 'field', colormap: 'viridis' });
 */
export function heatmapSvg(rows: readonly ArrayLike<number>[], opts: HeatmapOptions = {}): string {
  const nr = rows.length;
  const nc = rows.reduce((m, r) => Math.max(m, r.length), 0);
  let lo = opts.min ?? Infinity;
  let hi = opts.max ?? -Infinity;
  if (opts.min === undefined || opts.max === undefined) {
    for (const r of rows) {
      for (let j = 0; j < r.length; j++) {
        const v = r[j] as number;
        if (!Number.isFinite(v)) continue;
        if (opts.min === undefined) lo = Math.min(lo, v);
        if (opts.max === undefined) hi = Math.max(hi, v);
      }
    }
  }
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [0, 1];
  if (opts.colormap === 'diverging' && opts.min === undefined && opts.max === undefined) {
    const a = Math.max(Math.abs(lo), Math.abs(hi));
    [lo, hi] = [-a, a];
  }
  const span = hi > lo ? hi - lo : 1;
  const cell = opts.cellSize ?? Math.max(2, Math.min(40, Math.floor(480 / Math.max(1, nc))));
  const top = opts.title === undefined ? 8 : 30;
  const bar = opts.colorbar !== false;
  const W = 8 + nc * cell + (bar ? 96 : 8);
  const H = top + Math.max(nr * cell, bar ? 60 : 0) + 8;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT} font-size="11" shape-rendering="crispEdges">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
  ];
  if (opts.title !== undefined) {
    out.push(
      `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="600" shape-rendering="auto">${esc(opts.title)}</text>`,
    );
  }
  rows.forEach((r, i) => {
    for (let j = 0; j < r.length; j++) {
      const v = r[j] as number;
      const c = colormap((v - lo) / span, opts.colormap);
      out.push(
        `<rect x="${8 + j * cell}" y="${top + i * cell}" width="${cell}" height="${cell}" fill="${c}"/>`,
      );
    }
  });
  if (bar) out.push(colorbarSvg(16 + nc * cell, top, Math.max(60, nr * cell), lo, hi, opts));
  out.push('</svg>');
  return out.join('\n');
}
