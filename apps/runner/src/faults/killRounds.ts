// Fault-injection kit: kill -9 a real `runner ired train --save-every 1` at random moments,
// resume it each time, and compare what JSONL, TensorBoard and the W&B spool hold with an
// uninterrupted run. Used by faults.test.ts (a few rounds) and `pnpm bench faults` (>= 50).
import { spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  fstatSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '@x/core';
import { decodeEvent, parseJson } from '@x/logging';
import { tinyIredSets } from '../testkit.js';
import { tsArgs } from '@x/test-utils';

const runnerRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A tiny IRED config: a step takes ~0.1–0.3 s on the cpu backend. */
export const tinyIred = [
  ...tinyIredSets,
  '--set',
  'logging.sinks.jsonl.every.steps=3',
  '--set',
  'logging.sinks.tensorboard.every.steps=4',
  '--backend',
  'cpu',
  '--quiet',
];

/** The flags a resumed run may repeat (it keeps its config). */
const resumeFlags = ['--backend', 'cpu', '--quiet'];

/** Values that depend on wall time, left out of comparisons. */
const TIMING = new Set(['step', 'time', 'train/stepSeconds', '_step', '_runtime', '_timestamp']);

/** One logged row: its step and its (non-timing) values. */
export interface Row {
  step: number;
  values: Record<string, unknown>;
}

/** What each sink of a run directory holds. */
export interface SinkRows {
  jsonl: Row[];
  tensorboard: Row[];
  wandb: Row[];
}

/** Starts `runner <args>` as a real process with extra environment (W&B offline, …). */
export function spawnRunnerEnv(args: string[], env: NodeJS.ProcessEnv, cwd: string): ChildProcess {
  return spawn(process.execPath, tsArgs(join(runnerRoot, 'src', 'bin.ts'), args), {
    cwd: runnerRoot,
    env: { ...process.env, INIT_CWD: cwd, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs a process to its end, collecting stderr. */
export function finished(
  child: ChildProcess,
): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout?.resume();
  return new Promise((done) => child.on('close', (code, signal) => done({ code, signal, stderr })));
}

function strip(values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(values)) if (!TIMING.has(k)) out[k] = v;
  return out;
}

function completeLines(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const end = text.lastIndexOf('\n');
  return end < 0
    ? []
    : text
        .slice(0, end)
        .split('\n')
        .filter((l) => l.trim() !== '');
}

function jsonlRows(logs: string): Row[] {
  if (!existsSync(logs)) return [];
  const re = /^metrics\.(\d+)\.jsonl$/;
  const parts = readdirSync(logs)
    .map((f) => re.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(a[1]) - Number(b[1]))
    .map((m) => join(logs, m[0]));
  const files = [...parts, join(logs, 'metrics.jsonl')].filter((f) => existsSync(f));
  return files.flatMap((f) =>
    completeLines(f).map((l) => {
      const o = parseJson(l) as Record<string, unknown>;
      return { step: o['step'] as number, values: strip(o) };
    }),
  );
}

/** Scalar events of every event file (in file-name order), stopping at a torn tail. */
function tensorboardRows(dir: string): Row[] {
  if (!existsSync(dir)) return [];
  const out: Row[] = [];
  for (const name of readdirSync(dir)
    .filter((n) => n.startsWith('events.out.tfevents.'))
    .sort()) {
    const fd = openSync(join(dir, name), 'r');
    try {
      const size = fstatSync(fd).size;
      const head = Buffer.alloc(12);
      let pos = 0;
      while (pos + 12 <= size) {
        readSync(fd, head, 0, 12, pos);
        const len = Number(head.readBigUInt64LE(0));
        if (pos + 16 + len > size) break; // a torn tail (the writer was killed)
        const rec = Buffer.alloc(len + 4);
        readSync(fd, rec, 0, len + 4, pos + 12);
        const data = rec.subarray(0, len);
        pos += 16 + len;
        let e: ReturnType<typeof decodeEvent>;
        try {
          e = decodeEvent(data);
        } catch {
          break;
        }
        const scalars = e.values.filter((v) => v.simpleValue !== undefined);
        if (scalars.length === 0) continue;
        out.push({
          step: e.step,
          values: strip(Object.fromEntries(scalars.map((v) => [v.tag, v.simpleValue]))),
        });
      }
    } finally {
      closeSync(fd);
    }
  }
  return out;
}

function wandbRows(file: string): Row[] {
  if (!existsSync(file)) return [];
  return completeLines(file).map((l) => {
    const o = parseJson(l) as Record<string, unknown>;
    return { step: o['_step'] as number, values: strip(o) };
  });
}

/** Reads the rows of every sink of a run directory (torn tails of killed writers ignored). */
export function readSinkRows(runDir: string): SinkRows {
  return {
    jsonl: jsonlRows(join(runDir, 'logs')),
    tensorboard: tensorboardRows(join(runDir, 'logs', 'tb')),
    wandb: wandbRows(join(runDir, 'wandb', 'history.jsonl')),
  };
}

/** Committed checkpoint steps of a run directory, ascending. */
export function checkpointSteps(runDir: string): number[] {
  const dir = join(runDir, 'checkpoints');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((d) => /^step-\d{8}$/.test(d))
    .map((d) => Number(d.slice(5)))
    .sort((a, b) => a - b);
}

/** Rows lost, duplicated or different from the reference, per sink, over steps 1..`upTo`. */
export interface RowCheck {
  lost: number;
  duplicated: number;
  mismatched: number;
  problems: string[];
}

/**
 * Compares a sink's rows with the reference rows of an uninterrupted run over steps 1..`upTo`:
 * each step must appear exactly once with equal values. Rows after `upTo` are allowed (and
 * not checked) when `extraAllowed`.
 */
export function checkRows(
  sink: string,
  rows: readonly Row[],
  reference: readonly Row[],
  upTo: number,
  extraAllowed = false,
): RowCheck {
  const r: RowCheck = { lost: 0, duplicated: 0, mismatched: 0, problems: [] };
  const byStep = new Map<number, Row[]>();
  for (const row of rows) {
    const list = byStep.get(row.step) ?? [];
    list.push(row);
    byStep.set(row.step, list);
  }
  const ref = new Map(reference.map((x) => [x.step, x]));
  for (let s = 1; s <= upTo; s++) {
    const got = byStep.get(s) ?? [];
    if (got.length === 0) {
      r.lost++;
      r.problems.push(`${sink}: step ${s} missing`);
    } else if (got.length > 1) {
      r.duplicated += got.length - 1;
      r.problems.push(`${sink}: step ${s} ${got.length} times`);
    }
    const want = ref.get(s);
    if (got[0] !== undefined && want !== undefined) {
      const a = JSON.stringify(got[0].values);
      const b = JSON.stringify(want.values);
      if (a !== b) {
        r.mismatched++;
        r.problems.push(`${sink}: step ${s} differs: ${a} vs ${b}`);
      }
    }
  }
  if (!extraAllowed) {
    for (const s of byStep.keys()) {
      if (s > upTo || s < 1) {
        r.duplicated++;
        r.problems.push(`${sink}: unexpected step ${s}`);
      }
    }
  }
  return r;
}

/** Totals of a kill-round campaign. */
export interface KillReport {
  rounds: number;
  killed: number;
  /** Rounds after which every committed step was durable in every sink. */
  durableRounds: number;
  lost: number;
  duplicated: number;
  mismatched: number;
  problems: string[];
  finalStep: number;
}

/** Options of {@link killRounds}. */
export interface KillOptions {
  runDir: string;
  cwd: string;
  steps: number;
  rounds: number;
  seed: number;
  reference: SinkRows;
  env?: NodeJS.ProcessEnv;
  /** Stop starting rounds after this time (ms since the epoch); the run is then finished. */
  deadline?: number;
  onRound?: (round: number, killedAfterMs: number, checkpoint: number, durable: boolean) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `ired train --save-every 1` in `runDir`, kills it with SIGKILL at a random moment drawn
 * from the seeded stream `faults/kill-delay` (a quarter of the kills during start-up and resume,
 * the rest shortly after a new checkpoint appeared), checks that every committed step is
 * durable in every sink, resumes, and repeats; then lets the run finish and compares every sink
 * with the uninterrupted `reference`.
 */
export async function killRounds(o: KillOptions): Promise<KillReport> {
  const rng = Rng.fromSeed(o.seed).stream('faults/kill-delay');
  const env = { WANDB_MODE: 'offline', ...o.env };
  const report: KillReport = {
    rounds: 0,
    killed: 0,
    durableRounds: 0,
    lost: 0,
    duplicated: 0,
    mismatched: 0,
    problems: [],
    finalStep: 0,
  };
  const args = (first: boolean) => [
    'ired',
    'train',
    '--steps',
    String(o.steps),
    '--save-every',
    '1',
    ...(first ? ['--out', o.runDir, ...tinyIred] : ['--resume', o.runDir, ...resumeFlags]),
  ];
  let first = true;
  for (let round = 0; round < o.rounds; round++) {
    if ((checkpointSteps(o.runDir).at(-1) ?? 0) >= o.steps) break;
    if (o.deadline !== undefined && Date.now() > o.deadline) break;
    const before = checkpointSteps(o.runDir).at(-1) ?? 0;
    const child = spawnRunnerEnv(args(first), env, o.cwd);
    const done = finished(child);
    let exited = false;
    void done.then(() => (exited = true));
    const t0 = Date.now();
    const early = rng.uniform() < 0.25;
    if (early) {
      await sleep(rng.uniform(0, 4000));
    } else {
      const extra = rng.uniform(0, 1200);
      while (
        !exited &&
        (checkpointSteps(o.runDir).at(-1) ?? 0) <= before &&
        Date.now() - t0 < 180_000
      )
        await sleep(25);
      await sleep(extra);
    }
    report.rounds++;
    const killed = !exited;
    if (killed) {
      child.kill('SIGKILL');
      report.killed++;
    }
    const res = await done;
    if (!killed && res.code !== 0)
      report.problems.push(`round ${round}: exit ${res.code}: ${res.stderr.slice(-400)}`);
    if (checkpointSteps(o.runDir).length > 0 || existsSync(join(o.runDir, 'config.yaml')))
      first = false;
    const committed = checkpointSteps(o.runDir).at(-1) ?? 0;
    const elapsed = Date.now() - t0;
    // Item 1: everything up to the newest checkpoint is durable in every sink right after the kill.
    const rows = readSinkRows(o.runDir);
    let durable = true;
    for (const sink of ['jsonl', 'tensorboard', 'wandb'] as const) {
      const c = checkRows(sink, rows[sink], o.reference[sink], committed, true);
      if (c.lost + c.duplicated + c.mismatched > 0) {
        durable = false;
        report.lost += c.lost;
        report.duplicated += c.duplicated;
        report.mismatched += c.mismatched;
        report.problems.push(
          ...c.problems
            .slice(0, 5)
            .map((p) => `round ${round} (after kill at checkpoint ${committed}): ${p}`),
        );
      }
    }
    if (durable) report.durableRounds++;
    o.onRound?.(round, elapsed, committed, durable);
  }
  // Finish the run without faults, then every sink must equal the uninterrupted run.
  const last = await finished(spawnRunnerEnv(args(first), env, o.cwd));
  if (last.code !== 0)
    report.problems.push(`final resume: exit ${last.code}: ${last.stderr.slice(-600)}`);
  report.finalStep = checkpointSteps(o.runDir).at(-1) ?? 0;
  const rows = readSinkRows(o.runDir);
  for (const sink of ['jsonl', 'tensorboard', 'wandb'] as const) {
    const c = checkRows(sink, rows[sink], o.reference[sink], o.steps);
    report.lost += c.lost;
    report.duplicated += c.duplicated;
    report.mismatched += c.mismatched;
    report.problems.push(...c.problems.slice(0, 10).map((p) => `final: ${p}`));
  }
  return report;
}

/** Trains the uninterrupted reference run and returns its rows. */
export async function referenceRun(runDir: string, cwd: string, steps: number): Promise<SinkRows> {
  const res = await finished(
    spawnRunnerEnv(
      [
        'ired',
        'train',
        '--out',
        runDir,
        '--steps',
        String(steps),
        '--save-every',
        '1',
        ...tinyIred,
      ],
      { WANDB_MODE: 'offline' },
      cwd,
    ),
  );
  if (res.code !== 0) throw new Error(`reference run failed (${res.code}): ${res.stderr}`);
  return readSinkRows(runDir);
}
