/** A metric value in at most ~4 significant digits (`NaN`, `Infinity` kept). */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
  if (Number.isInteger(v) && Math.abs(v) < 1e7) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(3);
  return String(Number(v.toPrecision(4)));
}

/** Seconds as `h:mm:ss` or `m:ss`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** A text progress bar of `width` cells. */
export function progressBar(fraction: number, width: number): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.floor(f * width);
  return '█'.repeat(full) + (full < width ? '░'.repeat(width - full) : '');
}

/** Groups `category/name` values by category, in first-seen order. */
export function groupByCategory(
  values: ReadonlyMap<string, number>,
): Map<string, [string, number][]> {
  const out = new Map<string, [string, number][]>();
  for (const [key, v] of values) {
    const i = key.indexOf('/');
    const cat = i < 0 ? '' : key.slice(0, i);
    const name = i < 0 ? key : key.slice(i + 1);
    let list = out.get(cat);
    if (list === undefined) {
      list = [];
      out.set(cat, list);
    }
    list.push([name, v]);
  }
  return out;
}

/** Steps per second over a sliding window of (time, step) samples. */
export class RateMeter {
  readonly #samples: [number, number][] = [];
  constructor(readonly windowSeconds = 30) {}

  add(timeSeconds: number, step: number): void {
    this.#samples.push([timeSeconds, step]);
    while (
      this.#samples.length > 2 &&
      timeSeconds - (this.#samples[0] as [number, number])[0] > this.windowSeconds
    ) {
      this.#samples.shift();
    }
  }

  /** Steps per second, or NaN before two samples. */
  get rate(): number {
    const a = this.#samples[0];
    const b = this.#samples[this.#samples.length - 1];
    if (a === undefined || b === undefined || b[0] <= a[0]) return NaN;
    return (b[1] - a[1]) / (b[0] - a[0]);
  }
}
