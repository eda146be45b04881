import {
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { readJsonl } from '../sinks/jsonlSink.js';
import type { EpisodeRecord, MetricRow, PictureRecord, RunInfo, Sink } from '../types.js';
import { lineChartSvg } from './lineChart.js';
import { tableSvg } from './table.js';

/** Options of {@link svgSink}. */
export interface SvgSinkOptions {
  /** Metrics drawn as line charts: `category/name`, `category/*`, or `*` for all. Default `['*']`. */
  charts?: readonly string[];
  /** Pictures kept under `svg/` (oldest deleted first; charts not counted). Default 200. */
  maxPictures?: number;
  /** Points kept per charted metric (older points thinned 2:1). Default 2000. */
  maxPoints?: number;
  /**
   * Episode summaries (e.g. per-operator hyperparameters) drawn as one table per category at
   * `svg/tables/<category>.svg`, keeping the first `maxTableRows` rows. Default 50; 0 = none.
   */
  maxTableRows?: number;
}

function matches(name: string, patterns: readonly string[]): boolean {
  return patterns.some(
    (p) => p === '*' || p === name || (p.endsWith('/*') && name.startsWith(p.slice(0, -1))),
  );
}

function safe(part: string): string {
  return part.replace(/[^A-Za-z0-9._-]+/g, '_');
}

function writeAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

function listPictures(dir: string): { path: string; mtime: number }[] {
  if (!existsSync(dir)) return [];
  const out: { path: string; mtime: number }[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.svg')) continue;
    const path = join(entry.parentPath, entry.name);
    if (path.startsWith(join(dir, 'charts')) || path.startsWith(join(dir, 'tables'))) continue;
    out.push({ path, mtime: statSync(path).mtimeMs });
  }
  return out.sort((a, b) => a.mtime - b.mtime);
}

/**
 * Writes pictures to `svg/<category>/<name>_step-XXXXXXXX.svg` (keeping at most `maxPictures`)
 * and line charts of the chosen metrics to `svg/charts/<category>/<name>.svg`, redrawn after
 * each delivery (off the caller's stack) and at close. Each picture's `path` is set to where it was written.
 */
export function svgSink(options: SvgSinkOptions = {}): Sink {
  const patterns = options.charts ?? ['*'];
  const maxPictures = options.maxPictures ?? 200;
  const maxPoints = options.maxPoints ?? 2000;
  let dir = '';
  let kept: string[] = [];
  const series = new Map<string, { x: number[]; y: number[] }>();
  const dirty = new Set<string>();
  const maxTableRows = options.maxTableRows ?? 50;
  const tables = new Map<string, { columns: string[]; rows: unknown[][]; total: number }>();
  const dirtyTables = new Set<string>();
  let scheduled: NodeJS.Immediate | undefined;
  let notify: RunInfo['notify'];

  const record = (rows: readonly MetricRow[]) => {
    for (const row of rows) {
      for (const [name, v] of Object.entries(row.values)) {
        if (!matches(name, patterns)) continue;
        let s = series.get(name);
        if (s === undefined) {
          s = { x: [], y: [] };
          series.set(name, s);
        }
        s.x.push(row.step);
        s.y.push(v);
        if (s.x.length > maxPoints) {
          const last = s.x.length - 1;
          s.x = s.x.filter((_, i) => i % 2 === 0 || i === last);
          s.y = s.y.filter((_, i) => i % 2 === 0 || i === last);
        }
        dirty.add(name);
      }
    }
  };

  const draw = () => {
    for (const name of dirty) {
      const s = series.get(name);
      if (s === undefined) continue;
      const [category, ...rest] = name.split('/');
      const file = join(
        dir,
        'charts',
        safe(category ?? 'train'),
        `${safe(rest.join('/') || name)}.svg`,
      );
      writeAtomic(
        file,
        lineChartSvg([{ name, x: s.x, y: s.y }], {
          title: name,
          xLabel: 'step',
          yLabel: rest.join('/') || name,
          legend: false,
        }),
      );
    }
    dirty.clear();
    for (const category of dirtyTables) {
      const t = tables.get(category);
      if (t === undefined) continue;
      const shown = t.rows.length < t.total ? ` (first ${t.rows.length} of ${t.total})` : '';
      writeAtomic(
        join(dir, 'tables', `${safe(category)}.svg`),
        tableSvg(['step', ...t.columns], t.rows, { title: `${category}${shown}` }),
      );
    }
    dirtyTables.clear();
  };

  const recordEpisodes = (episodes: readonly EpisodeRecord[]) => {
    if (maxTableRows === 0) return;
    for (const e of episodes) {
      let t = tables.get(e.category);
      if (t === undefined) {
        t = { columns: Object.keys(e.data).slice(0, 24), rows: [], total: 0 };
        tables.set(e.category, t);
      }
      t.total++;
      if (t.rows.length < maxTableRows) t.rows.push([e.step, ...t.columns.map((c) => e.data[c])]);
      dirtyTables.add(e.category);
    }
  };

  const schedule = () => {
    scheduled ??= setImmediate(() => {
      scheduled = undefined;
      try {
        draw();
      } catch (err) {
        notify?.('warn', `svg sink could not draw charts: ${(err as Error).message}`);
      }
    });
  };

  return {
    name: 'svg',
    start(run: RunInfo) {
      dir = join(run.runDir, 'svg');
      notify = run.notify;
      mkdirSync(dir, { recursive: true });
      kept = listPictures(dir).map((p) => p.path);
      if (run.resumed) {
        const rows: MetricRow[] = [];
        for (const r of readJsonl(join(run.runDir, 'logs'))) {
          const { step, time, ...values } = r as { step: number; time: number } & Record<
            string,
            number
          >;
          if (typeof step === 'number' && step <= run.startStep) rows.push({ step, time, values });
        }
        record(rows);
        dirty.clear();
      }
    },
    writeRows(rows: readonly MetricRow[]) {
      record(rows);
      schedule();
    },
    writeEpisodes(episodes: readonly EpisodeRecord[]) {
      recordEpisodes(episodes);
      schedule();
    },
    writePicture(p: PictureRecord) {
      const [category, ...rest] = p.name.split('/');
      const stem = `${safe(rest.join('/') || p.name)}_step-${String(p.step).padStart(8, '0')}`;
      const path = join(dir, safe(category ?? 'train'), `${stem}.svg`);
      writeAtomic(path, p.svg);
      p.path = path;
      kept = kept.filter((k) => k !== path);
      kept.push(path);
      while (kept.length > maxPictures) {
        const old = kept.shift() as string;
        if (existsSync(old)) unlinkSync(old);
      }
    },
    close() {
      if (scheduled !== undefined) clearImmediate(scheduled);
      scheduled = undefined;
      draw();
      return Promise.resolve();
    },
  };
}
