import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { XError } from '@x/core';
import { readJsonl } from '@x/logging';
import { parse } from 'yaml';

/** One metric of a run: values by step (`null` where the value was NaN or ±Infinity). */
export interface MetricSeries {
  x: number[];
  y: (number | null)[];
}

/** A checkpoint as the report shows it. */
export interface CheckpointRow {
  step: number;
  createdAt: string;
  metrics: Record<string, number>;
  /** `last`, `best (<metric>, <min|max>)`. */
  tags: string[];
}

/** Everything the report shows of one run directory. */
export interface RunData {
  name: string;
  dir: string;
  config: Record<string, unknown>;
  provenance: Record<string, unknown> | undefined;
  metrics: Record<string, MetricSeries>;
  checkpoints: CheckpointRow[];
  pictures: { path: string; svg: string }[];
  /** What was missing or skipped, said in the report. */
  notes: string[];
}

const MAX_PICTURES = 60;
const MAX_PICTURE_BYTES = 2 * 1024 * 1024;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function readConfig(dir: string, notes: string[]): Pick<RunData, 'config' | 'provenance'> {
  const file = join(dir, 'config.yaml');
  if (!existsSync(file)) {
    notes.push('no config.yaml');
    return { config: {}, provenance: undefined };
  }
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new XError('INVALID_INPUT', `${file}: not valid YAML: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (!isObject(doc)) return { config: {}, provenance: undefined };
  const { provenance, ...config } = doc;
  if (!isObject(provenance))
    notes.push('no provenance in config.yaml (run written by an older runner)');
  return { config, provenance: isObject(provenance) ? provenance : undefined };
}

function readMetrics(dir: string, notes: string[]): Record<string, MetricSeries> {
  const logs = join(dir, 'logs');
  const rows = readJsonl(logs);
  if (rows.length === 0) notes.push('no metrics (logs/metrics.jsonl)');
  const out: Record<string, MetricSeries> = {};
  for (const row of rows) {
    const step = row['step'];
    if (typeof step !== 'number') continue;
    for (const [k, v] of Object.entries(row)) {
      if (k === 'step' || k === 'time' || typeof v !== 'number') continue;
      const s = (out[k] ??= { x: [], y: [] });
      s.x.push(step);
      s.y.push(Number.isFinite(v) ? v : null);
    }
  }
  return out;
}

function bestBy(
  config: Record<string, unknown>,
): { metric: string; mode: 'min' | 'max' } | undefined {
  const ckpt = config['checkpoint'];
  const kb = isObject(ckpt) ? ckpt['keepBest'] : undefined;
  if (
    isObject(kb) &&
    typeof kb['metric'] === 'string' &&
    (kb['mode'] === 'min' || kb['mode'] === 'max')
  )
    return { metric: kb['metric'], mode: kb['mode'] };
  return undefined;
}

function readCheckpoints(
  dir: string,
  config: Record<string, unknown>,
  notes: string[],
): CheckpointRow[] {
  const root = join(dir, 'checkpoints');
  if (!existsSync(root)) {
    notes.push('no checkpoints');
    return [];
  }
  const rows: CheckpointRow[] = [];
  for (const name of readdirSync(root)
    .filter((n) => /^step-\d{8}$/.test(n))
    .sort()) {
    const file = join(root, name, 'manifest.json');
    if (!existsSync(file)) continue;
    try {
      const m = JSON.parse(readFileSync(file, 'utf8')) as {
        step?: number;
        createdAt?: string;
        metrics?: Record<string, number>;
      };
      rows.push({
        step: m.step ?? Number(name.slice(5)),
        createdAt: m.createdAt ?? '',
        metrics: m.metrics ?? {},
        tags: [],
      });
    } catch {
      notes.push(`${name}: unreadable manifest.json`);
    }
  }
  const last = rows.at(-1);
  if (last !== undefined) last.tags.push('last');
  const policy = bestBy(config);
  const metric =
    policy?.metric ??
    Object.keys(last?.metrics ?? {}).find((k) => k === 'loss' || k.endsWith('/loss'));
  const mode = policy?.mode ?? 'min';
  if (metric !== undefined) {
    const scored = rows.filter((r) => Number.isFinite(r.metrics[metric]));
    const best = scored.reduce<CheckpointRow | undefined>((b, r) => {
      if (b === undefined) return r;
      const [v, w] = [r.metrics[metric] as number, b.metrics[metric] as number];
      return (mode === 'min' ? v < w : v > w) ? r : b;
    }, undefined);
    best?.tags.push(`best (${metric}, ${mode})`);
  }
  return rows;
}

function readPictures(dir: string, notes: string[]): RunData['pictures'] {
  const files: string[] = [];
  const walk = (d: string, depth: number) => {
    if (depth > 5 || !existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const p = join(d, e.name);
      if (
        e.isDirectory() &&
        e.name !== 'checkpoints' &&
        e.name !== 'wandb' &&
        e.name !== 'node_modules'
      )
        walk(p, depth + 1);
      else if (e.isFile() && e.name.endsWith('.svg')) files.push(p);
    }
  };
  walk(dir, 0);
  const out: RunData['pictures'] = [];
  for (const f of files) {
    if (out.length >= MAX_PICTURES) {
      notes.push(`${files.length - MAX_PICTURES} more pictures not shown`);
      break;
    }
    if (statSync(f).size > MAX_PICTURE_BYTES) {
      notes.push(`${relative(dir, f)}: larger than 2 MiB, not shown`);
      continue;
    }
    out.push({ path: relative(dir, f), svg: readFileSync(f, 'utf8') });
  }
  return out;
}

/** Reads what the report shows of a run directory. Throws `INVALID_INPUT` naming a non-run. */
export function collectRun(dir: string): RunData {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new XError('INVALID_INPUT', `${dir}: no such run directory`);
  if (!['config.yaml', 'logs', 'checkpoints', 'svg'].some((f) => existsSync(join(dir, f))))
    throw new XError(
      'INVALID_INPUT',
      `${dir}: not a run directory (no config.yaml, logs/, checkpoints/ or svg/)`,
    );
  const notes: string[] = [];
  const { config, provenance } = readConfig(dir, notes);
  return {
    name: basename(dir),
    dir,
    config,
    provenance,
    metrics: readMetrics(dir, notes),
    checkpoints: readCheckpoints(dir, config, notes),
    pictures: readPictures(dir, notes),
    notes,
  };
}
