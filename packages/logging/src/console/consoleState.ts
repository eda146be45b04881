import type { MetricRow, NoticeRecord, RunInfo } from '../types.js';
import { RateMeter, formatDuration, formatValue } from './format.js';

/** What the console shows: progress, the latest metrics and notices. */
export class ConsoleState {
  pipeline = '';
  totalSteps: number | undefined;
  step = -1;
  readonly latest = new Map<string, number>();
  readonly notices: NoticeRecord[] = [];
  readonly rate = new RateMeter();
  startedAt = Date.now() / 1000;
  /** Wall-clock time (Unix seconds) of the last row; the live view counts the ETA down from it. */
  lastRowAt: number | undefined;

  start(run: RunInfo): void {
    this.pipeline = run.pipeline;
    this.totalSteps = run.totalSteps;
    this.step = run.startStep;
    this.startedAt = Date.now() / 1000;
  }

  addRows(rows: readonly MetricRow[]): void {
    for (const r of rows) {
      this.step = Math.max(this.step, r.step);
      for (const [k, v] of Object.entries(r.values)) this.latest.set(k, v);
    }
    const last = rows[rows.length - 1];
    if (last !== undefined) {
      this.rate.add(last.time, last.step);
      this.lastRowAt = Date.now() / 1000;
    }
  }

  addNotice(n: NoticeRecord): void {
    this.notices.push(n);
    if (this.notices.length > 50) this.notices.shift();
  }

  /**
   * `step 120/1000 12.0% · 35.2 steps/s · ETA 0:25`; with `now` (Unix seconds, the live view)
   * also the elapsed time, and the ETA counts down between rows.
   */
  progressText(now?: number): string {
    const parts = [
      `step ${this.step < 0 ? 0 : this.step}${this.totalSteps === undefined ? '' : `/${this.totalSteps}`}`,
    ];
    if (this.totalSteps !== undefined && this.totalSteps > 0) {
      parts[0] += ` ${((100 * Math.max(0, this.step)) / this.totalSteps).toFixed(1)}%`;
    }
    const rate = this.rate.rate;
    if (Number.isFinite(rate) && rate > 0) {
      parts.push(`${rate >= 100 ? rate.toFixed(0) : rate.toPrecision(3)} steps/s`);
      if (this.totalSteps !== undefined) {
        const since = now === undefined ? 0 : now - (this.lastRowAt ?? now);
        const eta = Math.max(0, (this.totalSteps - this.step) / rate - since);
        parts.push(`ETA ${formatDuration(eta)}`);
      }
    }
    if (now !== undefined) parts.push(`${formatDuration(now - this.startedAt)} elapsed`);
    return parts.join(' · ');
  }

  /** One plain line: progress and every latest metric (`train loss=0.12 acc=0.9 | eval …`). */
  plainLine(maxPerCategory: number): string {
    const groups = new Map<string, string[]>();
    for (const [k, v] of this.latest) {
      const i = k.indexOf('/');
      const cat = i < 0 ? '' : k.slice(0, i);
      const list = groups.get(cat) ?? [];
      if (list.length < maxPerCategory)
        list.push(`${i < 0 ? k : k.slice(i + 1)}=${formatValue(v)}`);
      groups.set(cat, list);
    }
    const metrics = [...groups].map(([c, l]) => `${c} ${l.join(' ')}`.trim()).join(' | ');
    return `[${this.pipeline}] ${this.progressText()}${metrics === '' ? '' : ` | ${metrics}`}`;
  }
}
