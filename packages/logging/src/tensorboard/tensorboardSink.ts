import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import type { FlushOptions, HistogramRecord, MetricRow, RunInfo, Sink } from '../types.js';
import { encodeEvent, frameRecord, frameRecords, histogramSummary, textSummary } from './events.js';
import { AppendFile } from '../sinks/appendFile.js';
import { scalarEventRecords } from './scalarEvents.js';
import { rewindEventFiles } from './tbRewind.js';
import { stripUrlCredentials } from '../wandb/redact.js';

let fileCounter = 0;

/** Options of {@link tensorboardSink}. */
export interface TensorboardSinkOptions {
  /** Write the run's config as a text summary (`config/text_summary`) at start. Default true. */
  configText?: boolean;
  /** Directory of the event files (default `<run-dir>/logs/tb`). */
  dir?: string;
}

/**
 * Writes TensorBoard event files (`events.out.tfevents.<secs>.<host>.<pid>.<n>`) under `logs/tb/`:
 * `brain.Event:2` first, the config as text, one event of scalars per committed row,
 * histograms. Every delivery is encoded when the logger hands it over (off `log()`) and written
 * in the background at once, so TensorBoard shows the run while it trains.
 * A resumed run starts its new file with `session_log START` at the next step, which makes
 * TensorBoard discard the orphaned steps of the interrupted run; `rewind(step)` also removes
 * them from the older event files themselves, so every step is stored once.
 */
export function tensorboardSink(options: TensorboardSinkOptions = {}): Sink {
  let file: AppendFile | undefined;
  let path = '';
  const write = (bytes: Uint8Array) => {
    if (file?.isOpen === true) file.append(bytes);
  };
  const now = () => Date.now() / 1000;
  return {
    name: 'tensorboard',
    start(run: RunInfo) {
      const dir = options.dir ?? join(run.runDir, 'logs', 'tb');
      mkdirSync(dir, { recursive: true });
      const secs = Math.floor(Date.now() / 1000);
      path = join(
        dir,
        `events.out.tfevents.${String(secs).padStart(10, '0')}.${hostname()}.${process.pid}.${fileCounter++}`,
      );
      file = new AppendFile(path);
      file.open();
      const chunks = [frameRecord(encodeEvent({ wallTime: now(), fileVersion: 'brain.Event:2' }))];
      if (run.resumed) {
        chunks.push(
          frameRecord(
            encodeEvent({ wallTime: now(), step: run.startStep + 1, sessionStart: true }),
          ),
        );
      }
      if (options.configText !== false) {
        const text = `\`\`\`yaml\n${stripUrlCredentials(stringify(run.config))}\`\`\``;
        const summary = textSummary('config', text);
        chunks.push(frameRecord(encodeEvent({ wallTime: now(), step: run.startStep, summary })));
      }
      write(Buffer.concat(chunks));
    },
    writeRows(rows: readonly MetricRow[]) {
      write(scalarEventRecords(rows));
    },
    writeHistograms(hs: readonly HistogramRecord[]) {
      write(
        frameRecords(
          hs.map((h) =>
            encodeEvent({ wallTime: h.time, step: h.step, summary: histogramSummary(h) }),
          ),
        ),
      );
    },
    async rewind(step: number) {
      if (file?.isOpen !== true) return;
      await file.drain();
      rewindEventFiles(dirname(path), path, step);
      if (step >= 0) {
        write(frameRecord(encodeEvent({ wallTime: now(), step: step + 1, sessionStart: true })));
      }
      await file.sync();
    },
    async flush(flushOptions?: FlushOptions) {
      if (file?.isOpen !== true) return;
      if (flushOptions?.durable === true) await file.sync();
      else await file.drain();
    },
    flushSync() {
      file?.writeNowSync();
    },
    async close() {
      const f = file;
      file = undefined;
      await f?.close();
    },
  };
}
