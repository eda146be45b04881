import { FONT, esc, fmt } from './svgText.js';

/** Options of {@link tableSvg}. */
export interface TableOptions {
  title?: string;
  /** Characters kept per cell (longer text is cut with `…`). Default 16. */
  maxChars?: number;
}

function cellText(v: unknown, maxChars: number): string {
  const s =
    typeof v === 'number'
      ? Number.isInteger(v)
        ? String(v)
        : fmt(v)
      : typeof v === 'string'
        ? v
        : v === undefined || v === null
          ? ''
          : JSON.stringify(v);
  return s.length > maxChars ? `${s.slice(0, maxChars - 1)}…` : s;
}

/**
 * A self-contained SVG table (header row, zebra rows, numbers right-aligned in one format), e.g.
 * per-operator hyperparameters.
 *
 * @example
 * tableSvg(['operator', 'layers'], [[0, 4], [1, 2]], { title: 'operators' });
 */
export function tableSvg(
  columns: readonly string[],
  rows: readonly (readonly unknown[])[],
  opts: TableOptions = {},
): string {
  const maxChars = opts.maxChars ?? 16;
  const text = rows.map((r) => columns.map((_, j) => cellText(r[j], maxChars)));
  const numeric = columns.map((_, j) => rows.every((r) => typeof r[j] === 'number'));
  const charW = 6.6;
  const widths = columns.map(
    (c, j) => 12 + charW * Math.max(c.length, ...text.map((r) => (r[j] as string).length)),
  );
  const rowH = 18;
  const top = opts.title === undefined ? 4 : 28;
  const W = 8 + widths.reduce((a, b) => a + b, 0) + 8;
  const H = top + rowH * (rows.length + 1) + 8;
  const xs = widths.map((_, j) => 8 + widths.slice(0, j).reduce((a, b) => a + b, 0));
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W.toFixed(0)}" height="${H}" viewBox="0 0 ${W.toFixed(0)} ${H}" ${FONT} font-size="11">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
  ];
  if (opts.title !== undefined)
    out.push(`<text x="8" y="19" font-size="13" font-weight="600">${esc(opts.title)}</text>`);
  out.push(
    `<rect x="8" y="${top}" width="${(W - 16).toFixed(0)}" height="${rowH}" fill="#e8edf3"/>`,
  );
  const cell = (j: number, y: number, s: string, cls: string) => {
    const x =
      numeric[j] === true ? (xs[j] as number) + (widths[j] as number) - 6 : (xs[j] as number) + 6;
    return `<text class="${cls}"${cls === 'th' ? ' font-weight="600"' : ''} x="${x.toFixed(1)}" y="${y}" text-anchor="${numeric[j] === true ? 'end' : 'start'}" dominant-baseline="middle">${esc(s)}</text>`;
  };
  columns.forEach((c, j) => out.push(cell(j, top + rowH / 2, c, 'th')));
  text.forEach((r, i) => {
    const y = top + rowH * (i + 1);
    if (i % 2 === 1)
      out.push(
        `<rect x="8" y="${y}" width="${(W - 16).toFixed(0)}" height="${rowH}" fill="#f6f6f6"/>`,
      );
    r.forEach((s, j) => out.push(cell(j, y + rowH / 2, s, 'td')));
  });
  out.push(
    `<line x1="8" x2="${(W - 8).toFixed(0)}" y1="${top + rowH}" y2="${top + rowH}" stroke="#888"/>`,
    '</svg>',
  );
  return out.join('\n');
}
