import { FONT, PALETTE, esc, fmt, niceTicks } from './svgText.js';

/** One line of a chart: y over x (non-finite y values leave a gap). */
export interface Series {
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  color?: string;
}

/** Options of {@link lineChartSvg}. */
export interface LineChartOptions {
  width?: number;
  height?: number;
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** Logarithmic y axis (non-positive values leave gaps). */
  logY?: boolean;
  /** Logarithmic x axis. */
  logX?: boolean;
}

/**
 * A self-contained SVG line chart (axes, ticks, legend; no scripts, no web fonts).
 *
 * @example
 * const svg = lineChartSvg([{ name: 'loss', x: [0, 1, 2], y: [1, 0.5, 0.3] }], { title: 'train' });
 */
export function lineChartSvg(series: readonly Series[], opts: LineChartOptions = {}): string {
  const W = opts.width ?? 640;
  const H = opts.height ?? 360;
  const m = {
    l: 64,
    r: 16,
    t: opts.title === undefined ? 16 : 36,
    b: opts.xLabel === undefined ? 36 : 52,
  };
  const legendH = series.length > 1 ? 18 * Math.ceil(series.length / 3) : 0;
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
      `<text x="${W / 2}" y="22" text-anchor="middle" font-size="14" font-weight="600">${esc(opts.title)}</text>`,
    );
  }
  const label = (v: number, log: boolean | undefined) => fmt(log === true ? 10 ** v : v);
  for (const t of niceTicks(y0, y1)) {
    const y = py(t).toFixed(1);
    out.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${y}" y2="${y}" stroke="#e6e6e6"/>`);
    out.push(
      `<text x="${m.l - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#444">${esc(label(t, opts.logY))}</text>`,
    );
  }
  for (const t of niceTicks(x0, x1, 6)) {
    const x = px(t).toFixed(1);
    out.push(`<line x1="${x}" x2="${x}" y1="${m.t + ph}" y2="${m.t + ph + 4}" stroke="#444"/>`);
    out.push(
      `<text x="${x}" y="${m.t + ph + 16}" text-anchor="middle" fill="#444">${esc(label(t, opts.logX))}</text>`,
    );
  }
  out.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  if (opts.xLabel !== undefined) {
    out.push(
      `<text x="${m.l + pw / 2}" y="${m.t + ph + 34}" text-anchor="middle">${esc(opts.xLabel)}</text>`,
    );
  }
  if (opts.yLabel !== undefined) {
    out.push(
      `<text transform="translate(14 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel)}</text>`,
    );
  }
  series.forEach((s, k) => {
    const color = s.color ?? PALETTE[k % PALETTE.length];
    const parts: string[] = [];
    let pen = 'M';
    for (let i = 0; i < Math.min(s.x.length, s.y.length); i++) {
      const x = tx(s.x[i] as number);
      const y = ty(s.y[i] as number);
      if (!Number.isFinite(x) || !Number.isFinite(y)) {
        pen = 'M';
        continue;
      }
      parts.push(`${pen}${px(x).toFixed(1)},${py(y).toFixed(1)}`);
      pen = 'L';
    }
    out.push(
      `<path d="${parts.join('')}" fill="none" stroke="${color}" stroke-width="1.5" stroke-linejoin="round"><title>${esc(s.name)}</title></path>`,
    );
    if (series.length > 1) {
      const lx = m.l + (k % 3) * (pw / 3);
      const ly = H - legendH + 12 + 18 * Math.floor(k / 3);
      out.push(`<rect x="${lx}" y="${ly - 8}" width="12" height="3" fill="${color}"/>`);
      out.push(
        `<text x="${lx + 16}" y="${ly - 4}" dominant-baseline="middle">${esc(s.name)}</text>`,
      );
    }
  });
  out.push('</svg>');
  return out.join('\n');
}
