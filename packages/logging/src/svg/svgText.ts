/** Escapes text for SVG/XML content and attributes. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const SUPERSCRIPT: Record<string, string> = {
  '-': '⁻',
  '0': '⁰',
  '1': '¹',
  '2': '²',
  '3': '³',
  '4': '⁴',
  '5': '⁵',
  '6': '⁶',
  '7': '⁷',
  '8': '⁸',
  '9': '⁹',
};

/**
 * A number formatted compactly for axis labels and values, one style everywhere: plain decimals
 * in [1e-3, 1e5), otherwise `m×10ⁿ` (e.g. `2.5×10⁻⁴`, `10⁶`).
 */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a === 0 || (a >= 1e-3 && a < 1e5)) return String(Number(v.toPrecision(4)));
  const [m, e] = v.toExponential(2).split('e') as [string, string];
  const mant = String(Number(m));
  const pow = `10${[...String(Number(e))].map((c) => SUPERSCRIPT[c] ?? c).join('')}`;
  return mant === '1' ? pow : mant === '-1' ? `-${pow}` : `${mant}×${pow}`;
}

/**
 * A tick label on a linear axis whose ticks are `step` apart: as many decimals as the step needs
 * (so 1694.002 and 1694.004 stay apart), otherwise as {@link fmt}.
 */
export function tickLabel(v: number, step: number): string {
  const a = Math.abs(v);
  if (!(step > 0) || a === 0 || a < 1e-3 || a >= 1e5) return fmt(v);
  const decimals = Math.min(8, Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));
  return String(Number(v.toFixed(decimals)));
}

/** About `count` "nice" tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
    out.push(Number(t.toPrecision(12)));
  }
  return out;
}

/** Ticks of a log axis given as log10 bounds: whole decades (every k-th when there are many). */
export function decadeTicks(lo: number, hi: number, count = 6): number[] {
  const a = Math.ceil(lo - 1e-9);
  const b = Math.floor(hi + 1e-9);
  if (b < a) return niceTicks(lo, hi, count);
  const every = Math.max(1, Math.ceil((b - a + 1) / count));
  const out: number[] = [];
  for (let k = a; k <= b; k += every) out.push(k);
  return out;
}

/** The font stack used by every picture (system fonts only, never a web font). */
export const FONT =
  'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

/** Colors of chart series (Tableau 10). */
export const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];
