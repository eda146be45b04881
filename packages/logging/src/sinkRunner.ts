import type { Cadence } from './config.js';
import type {
  CloseInfo,
  EpisodeRecord,
  FlushOptions,
  HistogramRecord,
  MetricRow,
  NoticeRecord,
  PictureRecord,
  RunInfo,
  Sink,
} from './types.js';

/** What a runner reports back to its logger. */
export interface RunnerHost {
  now(): number;
  failed(runner: SinkRunner, method: string, err: unknown): void;
  disabled(runner: SinkRunner, err: unknown): void;
  overflow(runner: SinkRunner, dropped: number): void;
}

/** Items a sink's buffer may hold while it waits on a promise; then the oldest are dropped. */
const MAX_BUFFERED = 100_000;

/**
 * Items buffered or in batches not yet handed over past which the runner stops deferring: a
 * buffer this full is cut into a batch before its cadence is due, and batches this many are
 * handed over on the caller's stack when the caller has not yielded to the event loop since
 * (back-pressure: `log()` does the work itself rather than dropping data or growing memory).
 */
export const HIGH_WATER = 4096;

type Call = [method: string, fn: () => unknown];

/** Hand-overs waiting for a macrotask, all loggers and sinks of the process together. */
const handOvers: (() => void)[] = [];
let handOverScheduled = false;

/**
 * Runs `fn` from a later macrotask: one hand-over per `setImmediate`, so that the sinks due at
 * the same step (JSONL and TensorBoard every 100 steps) encode in different turns of the event
 * loop rather than in one long one between two steps of the caller.
 */
function later(fn: () => void): void {
  handOvers.push(fn);
  if (!handOverScheduled) {
    handOverScheduled = true;
    setImmediate(handOverOne);
  }
}

function handOverOne(): void {
  const fn = handOvers.shift();
  if (handOvers.length > 0) setImmediate(handOverOne);
  else handOverScheduled = false;
  fn?.();
}

interface Batch {
  calls: Call[];
  items: number;
}

/**
 * Drives one sink: buffers what the logger commits, cuts it into batches on the sink's cadence
 * and hands the batches to the sink in order from a later macrotask (`setImmediate`, one sink
 * per macrotask), never on the caller's stack (unless back-pressure or `deliverNow()` asks for
 * it). A sink method that returns a promise makes later data wait and coalesce until it
 * settles. Isolates the sink's failures.
 */
export class SinkRunner {
  readonly sink: Sink;
  readonly every: Cadence;
  disabled = false;
  closed = false;
  failuresInRow = 0;
  readonly #host: RunnerHost;
  readonly #disableAfter: number;
  #rows: MetricRow[] = [];
  #episodes: EpisodeRecord[] = [];
  #histograms: HistogramRecord[] = [];
  #pictures: PictureRecord[] = [];
  #notices: NoticeRecord[] = [];
  #lastStep: number | undefined;
  #lastTime: number;
  /** Batches cut but not yet handed over, oldest first. */
  #batches: Batch[] = [];
  #queuedItems = 0;
  /** True while this runner waits in the hand-over queue ({@link later}). */
  #scheduled = false;
  /** True while batches are being handed over (including while a returned promise is pending). */
  #running = false;
  /** True while a promise returned by the sink is pending. */
  #awaiting = false;
  #waiters: (() => void)[] = [];
  #dropped = 0;
  #failures = 0;

  constructor(sink: Sink, every: Cadence, host: RunnerHost, disableAfter: number) {
    this.sink = sink;
    this.every = every;
    this.#host = host;
    this.#disableAfter = disableAfter;
    this.#lastTime = host.now();
  }

  get name(): string {
    return this.sink.name;
  }

  /** True when data is waiting to be cut into a batch. */
  get pending(): boolean {
    return (
      this.#rows.length +
        this.#episodes.length +
        this.#histograms.length +
        this.#pictures.length +
        this.#notices.length >
      0
    );
  }

  /** Starts the sink at once, on the caller's stack (files exist when the logger is built). */
  start(run: RunInfo): void {
    if (!this.sink.start) return;
    this.#enqueue([['start', () => this.sink.start?.(run)]], 0);
    this.runNow();
  }

  addRow(row: MetricRow): void {
    if (this.closed || this.disabled || !this.sink.writeRows) return;
    this.#push(this.#rows, row);
    this.deliver();
  }

  addEpisode(ep: EpisodeRecord): void {
    if (this.closed || this.disabled || !this.sink.writeEpisodes) return;
    this.#push(this.#episodes, ep);
  }

  addHistogram(h: HistogramRecord): void {
    if (this.closed || this.disabled || !this.sink.writeHistograms) return;
    this.#push(this.#histograms, h);
  }

  addPicture(p: PictureRecord): void {
    if (this.closed || this.disabled || !this.sink.writePicture) return;
    this.#push(this.#pictures, p);
    this.deliver();
  }

  addNotice(n: NoticeRecord): void {
    if (this.closed || this.disabled || !this.sink.writeNotice) return;
    this.#push(this.#notices, n);
    this.deliver();
  }

  /** Delivers buffered data when the sink's time cadence is due (called by the logger's timer). */
  tick(): void {
    const s = this.every.seconds;
    if (s !== undefined && this.pending && this.#host.now() - this.#lastTime >= s * 1000) {
      this.deliver(true);
    }
  }

  #push<T>(buf: T[], item: T): void {
    buf.push(item);
    if (buf.length >= HIGH_WATER && !this.#awaiting) {
      this.deliver(true);
      return;
    }
    if (buf.length > MAX_BUFFERED) {
      const n = Math.ceil(MAX_BUFFERED / 10);
      buf.splice(0, n);
      this.#dropped += n;
      this.#host.overflow(this, this.#dropped);
    }
  }

  #due(step: number): boolean {
    const { steps, seconds } = this.every;
    if (steps === undefined && seconds === undefined) return true;
    if (this.#lastStep === undefined) return true;
    if (steps !== undefined && step - this.#lastStep >= steps) return true;
    return seconds !== undefined && this.#host.now() - this.#lastTime >= seconds * 1000;
  }

  /**
   * Cuts what is buffered into a batch when the cadence is due (or `force`; notices and
   * pictures always) and schedules its hand-over. While a promise returned by the sink is
   * pending, data waits and coalesces instead.
   */
  deliver(force = false): void {
    if (this.disabled || this.#awaiting || !this.pending) return;
    const lastRow = this.#rows[this.#rows.length - 1];
    const data = force || (lastRow !== undefined && this.#due(lastRow.step));
    const pictures = this.#pictures;
    const notices = this.#notices;
    this.#pictures = [];
    this.#notices = [];
    let rows: MetricRow[] = [];
    let episodes: EpisodeRecord[] = [];
    let histograms: HistogramRecord[] = [];
    if (data) {
      rows = this.#rows;
      episodes = this.#episodes;
      histograms = this.#histograms;
      this.#rows = [];
      this.#episodes = [];
      this.#histograms = [];
      if (lastRow !== undefined) this.#lastStep = lastRow.step;
      this.#lastTime = this.#host.now();
    }
    const items =
      rows.length + episodes.length + histograms.length + pictures.length + notices.length;
    if (items === 0) return;
    const s = this.sink;
    const calls: Call[] = notices.map((n) => ['writeNotice', () => s.writeNotice?.(n)]);
    if (rows.length > 0) calls.push(['writeRows', () => s.writeRows?.(rows)]);
    if (histograms.length > 0)
      calls.push(['writeHistograms', () => s.writeHistograms?.(histograms)]);
    if (episodes.length > 0) calls.push(['writeEpisodes', () => s.writeEpisodes?.(episodes)]);
    for (const p of pictures) calls.push(['writePicture', () => s.writePicture?.(p)]);
    this.#enqueue(calls, items);
    // Back-pressure: the caller has not yielded for HIGH_WATER items: hand them over now.
    if (this.#queuedItems >= HIGH_WATER && this.#scheduled) this.runNow();
  }

  #enqueue(calls: Call[], items: number): void {
    this.#batches.push({ calls, items });
    this.#queuedItems += items;
    if (!this.#running && !this.#scheduled) {
      this.#scheduled = true;
      later(() => {
        if (!this.#scheduled) return; // handed over by runNow() meanwhile
        this.#scheduled = false;
        if (!this.#running) this.#run();
      });
    }
  }

  /**
   * Hands the batches cut so far to the sink on the caller's stack (synchronous sink methods
   * finish before this returns). Crash and signal handlers, back-pressure, `start`.
   */
  runNow(): void {
    this.#scheduled = false;
    if (!this.#running) this.#run();
  }

  /**
   * `flushNow()` for one sink: cuts everything buffered, hands it over on the caller's stack
   * and lets the sink write its queue synchronously (`Sink.flushSync`).
   */
  deliverNow(): void {
    this.deliver(true);
    this.runNow();
    if (this.disabled || this.#awaiting || !this.sink.flushSync) return;
    try {
      this.sink.flushSync();
    } catch (err) {
      this.#failed('flushSync', err);
    }
  }

  #run(): void {
    this.#running = true;
    for (;;) {
      const batch = this.#batches[0];
      if (batch === undefined || this.disabled) break;
      const call = batch.calls.shift();
      if (call === undefined) {
        this.#batches.shift();
        this.#queuedItems -= batch.items;
        continue;
      }
      const [method, fn] = call;
      let result: unknown;
      try {
        result = fn();
      } catch (err) {
        this.#failed(method, err);
        continue;
      }
      if (isThenable(result)) {
        this.#awaiting = true;
        result.then(
          () => {
            this.#awaiting = false;
            this.failuresInRow = 0;
            this.#run();
          },
          (err: unknown) => {
            this.#awaiting = false;
            this.#failed(method, err);
            this.#run();
          },
        );
        return;
      }
      this.failuresInRow = 0;
    }
    this.#running = false;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
    this.deliver();
  }

  #idle(): Promise<void> {
    if (!this.#running && this.#batches.length === 0) return Promise.resolve();
    return new Promise((res) => this.#waiters.push(res));
  }

  /**
   * Delivers everything and waits for the sink to make it durable (`Sink.flush`). Returns false
   * when the sink is disabled or a write or the flush failed (nothing can be promised then).
   */
  async flush(options?: FlushOptions): Promise<boolean> {
    const failuresBefore = this.#failures;
    await this.#idle();
    this.deliver(true);
    await this.#idle();
    if (!this.disabled && this.sink.flush)
      await this.#call('flush', () => this.sink.flush?.(options));
    return !this.disabled && this.#failures === failuresBefore;
  }

  /**
   * Waits for the sink to be idle, drops buffered data for steps after `step` and lets the sink
   * drop what it wrote after it (`Sink.rewind`). Throws what the sink throws: a resumed run
   * must not go on with logs it could not rewind.
   */
  async rewind(step: number): Promise<void> {
    await this.#idle();
    this.#rows = this.#rows.filter((r) => r.step <= step);
    this.#episodes = this.#episodes.filter((e) => e.step <= step);
    this.#histograms = this.#histograms.filter((h) => h.step <= step);
    this.#pictures = this.#pictures.filter((p) => p.step <= step);
    this.#lastStep = undefined;
    if (!this.disabled && this.sink.rewind) await this.sink.rewind(step);
  }

  async close(info: CloseInfo): Promise<void> {
    await this.flush();
    this.closed = true;
    if (this.sink.close) await this.#call('close', () => this.sink.close?.(info));
  }

  #failed(method: string, err: unknown): void {
    this.failuresInRow++;
    this.#failures++;
    this.#host.failed(this, method, err);
    if (!this.disabled && this.failuresInRow >= this.#disableAfter) {
      this.disabled = true;
      this.#rows = [];
      this.#episodes = [];
      this.#histograms = [];
      this.#pictures = [];
      this.#notices = [];
      this.#batches = [];
      this.#queuedItems = 0;
      this.#host.disabled(this, err);
    }
  }

  async #call(method: string, fn: () => unknown): Promise<void> {
    if (this.disabled && method !== 'close') return;
    try {
      await fn();
      this.failuresInRow = 0;
    } catch (err) {
      this.#failed(method, err);
    }
  }
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return typeof (x as { then?: unknown } | null)?.then === 'function';
}
