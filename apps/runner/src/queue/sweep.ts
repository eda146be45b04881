import { join } from 'node:path';
import { XError } from '@x/core';
import type { TrainJob } from './jobs.js';

/** One point of a sweep: config overrides and a seed, with its run directory. */
export interface SweepPoint {
  index: number;
  sets: [string, string][];
  seed: number;
  runDir: string;
}

/** Splits `v1,v2` on top-level commas (values may be YAML lists like `[8,8]`). */
function splitValues(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '[' || ch === '{') depth++;
    if (ch === ']' || ch === '}') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((v) => v.trim());
}

/** Parses repeated `--grid key=v1,v2` flags into (key, values) axes. */
export function parseGrid(flags: readonly string[]): [string, string[]][] {
  const axes: [string, string[]][] = [];
  for (const f of flags) {
    const eq = f.indexOf('=');
    const key = f.slice(0, eq).trim();
    const values = eq < 0 ? [] : splitValues(f.slice(eq + 1));
    if (eq < 1 || !/^[A-Za-z0-9_.]+$/.test(key) || values.some((v) => v === ''))
      throw new XError(
        'INVALID_INPUT',
        `--grid '${f}': expected <dotted.key>=<v1>,<v2>,... with non-empty values`,
      );
    if (axes.some(([k]) => k === key))
      throw new XError('INVALID_INPUT', `--grid: key '${key}' is given twice`);
    axes.push([key, values]);
  }
  return axes;
}

function slug(text: string): string {
  return text.replace(/[^A-Za-z0-9.=_-]+/g, '_');
}

/**
 * Every point of the grid × seeds, in a fixed order (the first --grid axis varies slowest, the seed
 * fastest): the order an array task index refers to.
 */
export function sweepPoints(
  pipeline: string,
  axes: readonly [string, string[]][],
  seeds: readonly number[],
  dir: string,
): SweepPoint[] {
  let combos: [string, string][][] = [[]];
  for (const [key, values] of axes)
    combos = combos.flatMap((c) => values.map((v) => [...c, [key, v] as [string, string]]));
  const points: SweepPoint[] = [];
  for (const sets of combos)
    for (const seed of seeds) {
      const name = [pipeline, ...sets.map(([k, v]) => `${k}=${v}`), `seed${seed}`]
        .map(slug)
        .join('-');
      points.push({ index: points.length, sets, seed, runDir: join(dir, name) });
    }
  return points;
}

const RESUMABLE = new Set(['--steps', '--save-every', '--backend', '--threads']);

/**
 * The training job of one point: `<pipeline> train <passthrough> --set k=v ... --seed s`. Flags a
 * resumed run may change are kept for `--resume`; the others live in the run's config.yaml.
 */
export function trainJob(pipeline: string, point: SweepPoint, passthrough: string[]): TrainJob {
  for (const f of ['--out', '--resume', '--seed'])
    if (passthrough.includes(f))
      throw new XError(
        'INVALID_INPUT',
        `${f} cannot be passed to a sweep's runs: each point gets its own run directory and seed`,
      );
  const resumeArgs: string[] = [];
  for (let i = 0; i < passthrough.length; i++) {
    const f = passthrough[i] as string;
    const [name] = f.split('=');
    if (RESUMABLE.has(name as string)) {
      resumeArgs.push(f);
      if (!f.includes('=') && passthrough[i + 1] !== undefined)
        resumeArgs.push(passthrough[i + 1] as string);
    }
  }
  const stepsAt = passthrough.indexOf('--steps');
  const steps = stepsAt < 0 ? undefined : Number(passthrough[stepsAt + 1]);
  return {
    kind: 'train',
    pipeline,
    runDir: point.runDir,
    args: [
      ...passthrough,
      ...point.sets.flatMap(([k, v]) => ['--set', `${k}=${v}`]),
      '--seed',
      String(point.seed),
    ],
    resumeArgs,
    ...(steps !== undefined && Number.isSafeInteger(steps) ? { steps } : {}),
  };
}
