import type { MetricRow, NoticeRecord, RunInfo, Sink } from '../types.js';
import { ConsoleState } from './consoleState.js';

/** Options of {@link consoleSink}. */
export interface ConsoleSinkOptions {
  /** Where to write (default `process.stderr`; results belong on stdout). */
  stream?: NodeJS.WriteStream;
  /** Live ink view (default: when the stream is a TTY at least 20 columns wide, or of unknown width). */
  live?: boolean;
  /** Colors (default: off when `NO_COLOR` is set, or without a TTY). */
  color?: boolean;
  /** `--quiet`: nothing but error notices. */
  quiet?: boolean;
  /** Metrics shown per category. Default 8. */
  maxPerCategory?: number;
  /** Render every frame in full (tests). */
  debugRender?: boolean;
  /** Live view redraws per second between deliveries (elapsed time, ETA countdown). Default 4. */
  refreshPerSecond?: number;
}

const ESC = String.fromCharCode(27);
const COLORS = { info: `${ESC}[36m`, warn: `${ESC}[33m`, error: `${ESC}[31m` } as const;

/**
 * The console sink. With a TTY, a live ink view redrawn in place several times a second
 * (progress bar with rate, ETA and elapsed time, the latest metrics grouped by category, recent
 * notices); without one, a plain line per delivery on the sink's cadence and one line per notice. `NO_COLOR` turns colors off; `quiet` shows only errors.
 */
export function consoleSink(options: ConsoleSinkOptions = {}): Sink {
  const stream = options.stream ?? process.stderr;
  const quiet = options.quiet ?? false;
  const tty = stream.isTTY === true;
  // A pseudo-terminal may report no size (0 columns, e.g. under `script`): assume 80 then.
  const live = !quiet && (options.live ?? (tty && (stream.columns || 80) >= 20));
  const noColor = process.env['NO_COLOR'] !== undefined && process.env['NO_COLOR'] !== '';
  const color = options.color ?? (tty && !noColor);
  const maxPerCategory = options.maxPerCategory ?? 8;
  const state = new ConsoleState();
  let view: { redraw: () => void; unmount: () => Promise<void> } | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  const refresh = options.refreshPerSecond ?? 4;
  let pending: Promise<void> | undefined;
  let printedStep = Number.NaN;

  const plainNotice = (n: NoticeRecord) => {
    const label = n.level === 'info' ? 'note' : n.level;
    const text = color ? `${COLORS[n.level]}${label}${ESC}[0m` : label;
    stream.write(`${text}${n.source === 'logger' ? '' : ` [${n.source}]`}: ${n.message}\n`);
  };

  return {
    name: 'console',
    start(run: RunInfo) {
      state.start(run);
      if (!live) return undefined;
      pending = import('./liveView.js').then(({ mountLiveView }) => {
        view = mountLiveView(stream, { state, color, maxPerCategory }, options.debugRender);
        if (refresh > 0) {
          timer = setInterval(() => view?.redraw(), 1000 / refresh);
          timer.unref();
        }
      });
      return pending;
    },
    writeRows(rows: readonly MetricRow[]) {
      state.addRows(rows);
      if (view !== undefined) view.redraw();
      else if (!quiet) {
        stream.write(`${state.plainLine(maxPerCategory)}\n`);
        printedStep = state.step;
      }
    },
    writeNotice(n: NoticeRecord) {
      state.addNotice(n);
      if (view !== undefined) view.redraw();
      else if (!quiet || n.level === 'error') plainNotice(n);
    },
    async close() {
      await pending;
      if (timer !== undefined) clearInterval(timer);
      if (view !== undefined) {
        await view.unmount();
        view = undefined;
      } else if (!quiet && state.latest.size > 0 && state.step !== printedStep) {
        stream.write(`${state.plainLine(maxPerCategory)}\n`);
      }
    },
  };
}
