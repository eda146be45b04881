import { FONT, PALETTE, decadeTicks, esc, fmt, niceTicks, tickLabel } from './svgText.js';

/** Point marker of a series. */
export type Marker = 'circle' | 'square' | 'triangle' | 'cross' | 'none';

/** One line of a chart: y over x (non-finite y values leave a gap). */
export interface Series {
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  color?: string;
  /** Point marker (default: a circle when the series has at most 60 points, else none). */
  marker?: Marker;
  /** Dashed line. */
  dashed?: boolean;
  /** Draw only the markers, no line. */
  pointsOnly?: boolean;
}

/** A horizontal (`y`) or vertical (`x`) reference line, e.g. a tolerance. */
export interface RefLine {
  axis: 'x' | 'y';
  value: number;
  /** Shown at the line's end and in the legend. */
  label: string;
  color?: string;
}

/** Options of {@link lineChartSvg}. */
export interface LineChartOptions {
  width?: number;
  height?: number;
  title?: string;
  /** Axis labels, with units, e.g. `time t (N-body units)`. */
  xLabel?: string;
  yLabel?: string;
  /** Logarithmic y axis (non-positive values leave gaps). */
  logY?: boolean;
  /** Logarithmic x axis. */
  logX?: boolean;
  /** Reference lines (tolerances, targets); the axis range includes them. */
  refLines?: readonly RefLine[];
  /** Legend below the plot (default true). */
  legend?: boolean;
}

const MARKER_CYCLE: Marker[] = ['circle', 'square', 'triangle', 'cross'];

function markerSvg(kind: Marker, x: number, y: number, color: string): string {
  const X = x.toFixed(1);
  const Y = y.toFixed(1);
  switch (kind) {
    case 'circle':
      return `<circle cx="${X}" cy="${Y}" r="3" fill="${color}"/>`;
    case 'square':
      return `<rect x="${(x - 3).toFixed(1)}" y="${(y - 3).toFixed(1)}" width="6" height="6" fill="${color}"/>`;
    case 'triangle':
      return `<path d="M${X},${(y - 3.5).toFixed(1)}l3.5,6.5h-7z" fill="${color}"/>`;
    case 'cross':
      return `<path d="M${(x - 3).toFixed(1)},${(y - 3).toFixed(1)}l6,6m0,-6l-6,6" stroke="${color}" stroke-width="1.5"/>`;
    case 'none':
      return '';
  }
}

function finiteCount(s: Series): number {
  let n = 0;
  for (let i = 0; i < Math.min(s.x.length, s.y.length); i++)
    if (Number.isFinite(s.x[i]) && Number.isFinite(s.y[i])) n++;
  return n;
}

/**
 * A self-contained SVG line chart: labelled axes, one tick format, point markers, reference
 * lines and a legend (no scripts, no web fonts).
 *
 * @example
 * const svg = lineChartSvg([{ name: 'loss', x: [0, 1, 2], y: [1, 0.5, 0.3] }], {
 *   title: 'train', xLabel: 'step', yLabel: 'loss',
 * });
 */
export function lineChartSvg(series: readonly Series[], opts: LineChartOptions = {}): string {
  const W = opts.width ?? 640;
  const H = opts.height ?? 360;
  const refs = opts.refLines ?? [];
  const entries = series.length + refs.length;
  const perRow = W < 500 ? 2 : 3;
  const legendH = opts.legend === false || entries === 0 ? 0 : 16 * Math.ceil(entries / perRow) + 6;
  const m = {
    l: opts.yLabel === undefined ? 58 : 72,
    r: 20,
    t: opts.title === undefined ? 14 : 34,
    b: opts.xLabel === undefined ? 30 : 46,
  };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b - legendH;
  const tx = (v: number) => (opts.logX === true ? Math.log10(v) : v);
  const ty = (v: number) => (opts.logY === true ? Math.log10(v) : v);
  let x0 = Infinity;
  let x1 = -Infinity;
  let y0 = Infinity;
  let y1 = -Infinity;
  for (const s of series) {
    for (let i = 0; i < Math.min(s.x.length, s.y.length); i++) {
      const x = tx(s.x[i] as number);
      const y = ty(s.y[i] as number);
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
    }
  }
  if (x0 === Infinity) [x0, x1, y0, y1] = [0, 1, 0, 1];
  for (const r of refs) {
    const v = r.axis === 'y' ? ty(r.value) : tx(r.value);
    if (!Number.isFinite(v)) continue;
    if (r.axis === 'y') [y0, y1] = [Math.min(y0, v), Math.max(y1, v)];
    else [x0, x1] = [Math.min(x0, v), Math.max(x1, v)];
  }
  if (x1 === x0) [x0, x1] = [x0 - 0.5, x1 + 0.5];
  if (y1 === y0) [y0, y1] = [y0 - (Math.abs(y0) || 1) * 0.5, y1 + (Math.abs(y1) || 1) * 0.5];
  const pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;
  const px = (x: number) => m.l + ((x - x0) / (x1 - x0)) * pw;
  const py = (y: number) => m.t + ph - ((y - y0) / (y1 - y0)) * ph;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT} font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
  ];
  if (opts.title !== undefined) {
    out.push(
      `<text x="${W / 2}" y="21" text-anchor="middle" font-size="13" font-weight="600">${esc(opts.title)}</text>`,
    );
  }
  const ticks = (lo: number, hi: number, log: boolean | undefined, n: number) =>
    log === true ? decadeTicks(lo, hi, n) : niceTicks(lo, hi, n);
  const label = (v: number, log: boolean | undefined, all: number[]) =>
    log === true ? fmt(10 ** v) : tickLabel(v, Math.abs((all[1] ?? v) - (all[0] ?? v)));
  const yTicks = ticks(y0, y1, opts.logY, 5);
  const xTicks = ticks(x0, x1, opts.logX, 6);
  for (const t of yTicks) {
    const y = py(t).toFixed(1);
    out.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${y}" y2="${y}" stroke="#e6e6e6"/>`);
    out.push(
      `<text class="tick" x="${m.l - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#444">${esc(label(t, opts.logY, yTicks))}</text>`,
    );
  }
  for (const t of xTicks) {
    const x = px(t).toFixed(1);
    out.push(`<line x1="${x}" x2="${x}" y1="${m.t}" y2="${m.t + ph}" stroke="#f0f0f0"/>`);
    out.push(`<line x1="${x}" x2="${x}" y1="${m.t + ph}" y2="${m.t + ph + 4}" stroke="#444"/>`);
    out.push(
      `<text class="tick" x="${x}" y="${m.t + ph + 16}" text-anchor="middle" fill="#444">${esc(label(t, opts.logX, xTicks))}</text>`,
    );
  }
  out.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  if (opts.xLabel !== undefined) {
    out.push(
      `<text class="axis-label" x="${m.l + pw / 2}" y="${m.t + ph + 33}" text-anchor="middle">${esc(opts.xLabel)}</text>`,
    );
  }
  if (opts.yLabel !== undefined) {
    out.push(
      `<text class="axis-label" transform="translate(14 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel)}</text>`,
    );
  }
  const legend: string[] = [];
  const refLegend: string[] = [];
  const legendAt = (k: number) => ({
    lx: m.l + (k % perRow) * (pw / perRow),
    ly: H - legendH + 14 + 16 * Math.floor(k / perRow),
  });
  refs.forEach((r, k) => {
    const color = r.color ?? '#c0392b';
    const v = r.axis === 'y' ? ty(r.value) : tx(r.value);
    if (!Number.isFinite(v)) return;
    const [xa, xb, ya, yb] =
      r.axis === 'y' ? [m.l, m.l + pw, py(v), py(v)] : [px(v), px(v), m.t, m.t + ph];
    out.push(
      `<line class="ref-line" x1="${xa.toFixed(1)}" x2="${xb.toFixed(1)}" y1="${ya.toFixed(1)}" y2="${yb.toFixed(1)}" stroke="${color}" stroke-width="1.2" stroke-dasharray="6 3"><title>${esc(r.label)}</title></line>`,
    );
    out.push(
      `<text x="${(r.axis === 'y' ? xb - 4 : xa + 4).toFixed(1)}" y="${(r.axis === 'y' ? ya - 4 : m.t + 12).toFixed(1)}" text-anchor="${r.axis === 'y' ? 'end' : 'start'}" fill="${color}">${esc(r.label)}</text>`,
    );
    const { lx, ly } = legendAt(series.length + k);
    refLegend.push(
      `<line x1="${lx}" x2="${lx + 18}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="1.2" stroke-dasharray="6 3"/>`,
      `<text class="legend" x="${lx + 24}" y="${ly}" dominant-baseline="middle">${esc(r.label)}</text>`,
    );
  });
  series.forEach((s, k) => {
    const color = s.color ?? PALETTE[k % PALETTE.length] ?? '#4e79a7';
    const marker =
      s.marker ??
      (finiteCount(s) <= 60 ? (MARKER_CYCLE[k % MARKER_CYCLE.length] ?? 'circle') : 'none');
    const parts: string[] = [];
    const marks: string[] = [];
    let pen = 'M';
    for (let i = 0; i < Math.min(s.x.length, s.y.length); i++) {
      const x = tx(s.x[i] as number);
      const y = ty(s.y[i] as number);
      if (!Number.isFinite(x) || !Number.isFinite(y)) {
        pen = 'M';
        continue;
      }
      parts.push(`${pen}${px(x).toFixed(1)},${py(y).toFixed(1)}`);
      marks.push(markerSvg(marker, px(x), py(y), color));
      pen = 'L';
    }
    const dash = s.dashed === true ? ' stroke-dasharray="5 3"' : '';
    out.push(
      `<g class="series"><title>${esc(s.name)}</title>${
        s.pointsOnly === true
          ? ''
          : `<path d="${parts.join('')}" fill="none" stroke="${color}" stroke-width="1.6" stroke-linejoin="round"${dash}/>`
      }${marks.join('')}</g>`,
    );
    const { lx, ly } = legendAt(k);
    legend.push(
      s.pointsOnly === true
        ? ''
        : `<line x1="${lx}" x2="${lx + 18}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="1.6"${dash}/>`,
      markerSvg(marker, lx + 9, ly, color),
      `<text class="legend" x="${lx + 24}" y="${ly}" dominant-baseline="middle">${esc(s.name)}</text>`,
    );
  });
  if (legendH > 0) out.push(...legend.filter((l) => l !== ''), ...refLegend);
  out.push('</svg>');
  return out.join('\n');
}

/** Options of {@link panelsSvg}. */
export interface PanelsOptions {
  /** Panels per row (default 2). */
  columns?: number;
  title?: string;
}

/**
 * Lays out SVG pictures (e.g. {@link lineChartSvg} panels with their own axes) on a grid in one
 * SVG, with an optional overall title.
 */
export function panelsSvg(panels: readonly string[], opts: PanelsOptions = {}): string {
  const cols = Math.max(1, Math.min(opts.columns ?? 2, panels.length));
  const sizes = panels.map((p) => {
    const m = /^<svg[^>]*?width="(\d+(?:\.\d+)?)"[^>]*?height="(\d+(?:\.\d+)?)"/.exec(p);
    return { w: Number(m?.[1] ?? 640), h: Number(m?.[2] ?? 360) };
  });
  const cw = Math.max(0, ...sizes.map((s) => s.w));
  const ch = Math.max(0, ...sizes.map((s) => s.h));
  const top = opts.title === undefined ? 0 : 30;
  const W = cols * cw;
  const H = top + Math.ceil(panels.length / cols) * ch;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT} font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
  ];
  if (opts.title !== undefined)
    out.push(
      `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="600">${esc(opts.title)}</text>`,
    );
  panels.forEach((p, i) => {
    const x = (i % cols) * cw;
    const y = top + Math.floor(i / cols) * ch;
    out.push(p.replace(/^<svg /, `<svg x="${x}" y="${y}" `));
  });
  out.push('</svg>');
  return out.join('\n');
}
