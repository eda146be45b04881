import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  cheapestWithin,
  createState,
  defaultSweeps,
  learnedRule,
  makeProblem,
  runComparison,
  type BenchReport,
  type MethodSweep,
  type ProblemName,
} from '@x/timestepper';
import { writeFileAtomic } from '../atomicWrite.js';
import type { Output } from '../command.js';
import { progressView } from '../progress.js';
import { yieldToLoop } from '../trainLoop.js';
import { loadLearnedModel } from './learned.js';
import { benchSvg } from './pictures.js';

/** Options of {@link runTimestepperBench}. */
export interface BenchOptions {
  problem: ProblemName;
  outFile: string;
  checkpoint?: string;
  cwd: string;
  /** End time (default: the reference's horizon for the problem). */
  tEnd?: number;
  points: number;
  maxForceEvals: number;
  /**
   * Smallest dt multiplier of the learned sweep (√2 … learnedMin, log-spaced). Default: the
   * symmetric rule's η values divided by the model's η0.
   */
  learnedMin?: number;
  out: Output;
  quiet: boolean;
  /** Stops between points when aborted (nothing is written then). */
  signal?: AbortSignal | undefined;
}

/** The energy-error tolerance the summary reports against. */
export const BENCH_TOLERANCE = 1e-4;

type Method = BenchReport['methods'][number];

/** A sweep parameter in one format: 4 significant digits, exponent form when very small or large. */
function fmtParam(x: number): string {
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e4) ? x.toExponential(2) : String(Number(x.toPrecision(4)));
}

function pad(cells: string[], widths: number[]): string {
  return cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ');
}

/** Every measured point as a table with headers. */
export function pointsTable(report: BenchReport): string[] {
  const w = [9, 10, 11, 13, 15, 7];
  const rows = [
    pad(['method', 'param', 'force evals', 'max |ΔE/E0|', 'final |ΔE/E0|', 'wall s'], w),
  ];
  for (const m of report.methods)
    for (const p of m.points)
      rows.push(
        pad(
          [
            m.name,
            fmtParam(p.param),
            String(p.forceEvals),
            p.maxRelEnergyError.toExponential(2),
            p.finalRelEnergyError.toExponential(2),
            p.wallSeconds.toFixed(2),
          ],
          w,
        ) + (p.completed ? '' : '  budget hit'),
      );
  return rows;
}

/** Why a method has no point within the tolerance, from its sweep. */
function missReason(m: Method, tol: number): string {
  const done = m.points.filter((p) => p.completed);
  if (m.points.length === 0) return 'no point measured (interrupted)';
  if (done.length === 0) return 'every point hit the force-evaluation budget';
  const best = done.reduce((a, b) => (b.maxRelEnergyError < a.maxRelEnergyError ? b : a));
  const reason =
    m.name === 'learned'
      ? 'the model sets dt from its short training; more training epochs, or smaller dt multipliers (--learned-min), move it down'
      : 'a smaller parameter would reach it';
  return `none of its ${done.length} completed points reaches ${tol.toExponential(0)}: the smallest max |ΔE/E0| was ${best.maxRelEnergyError.toExponential(2)} (param ${fmtParam(best.param)}, ${best.forceEvals} force evals) — ${reason}`;
}

/** The cheapest point within the tolerance per method, or why there is none, as a table. */
export function summaryTable(report: BenchReport, tol = BENCH_TOLERANCE): string[] {
  const rows = [
    `cheapest point with max |ΔE/E0| ≤ ${tol.toExponential(0)} (fewest force evaluations):`,
  ];
  rows.push(pad(['method', 'force evals', 'param', 'max |ΔE/E0|'], [9, 11, 10, 11]));
  for (const m of report.methods) {
    const best = cheapestWithin(m, tol);
    rows.push(
      best === undefined
        ? `${m.name.padStart(9)}  ${'—'.padStart(11)}  ${missReason(m, tol)}`
        : pad(
            [
              m.name,
              String(best.forceEvals),
              fmtParam(best.param),
              best.maxRelEnergyError.toExponential(2),
            ],
            [9, 11, 10, 11],
          ),
    );
  }
  return rows;
}

/**
 * Sweeps fixed, adaptive, symmetric and aarseth (and the learned rule from a checkpoint, its dt
 * multiplied by the symmetric sweep's η / η0, or by √2 … learnedMin log-spaced) to `tEnd`, writes
 * the contract's JSON and an SVG beside it.
 */
export async function runTimestepperBench(
  o: BenchOptions,
): Promise<{ report: BenchReport; json: string; svg: string; interrupted: boolean }> {
  const problem = makeProblem(o.problem);
  const tEnd = o.tEnd ?? problem.tEnd;
  const sweeps: MethodSweep[] = defaultSweeps(o.problem, tEnd, o.points);
  let dispose = () => {};
  if (o.checkpoint !== undefined) {
    const { model, config, step, dir } = await loadLearnedModel(o.checkpoint, o.cwd);
    o.out.info(
      `learned: ${dir} (step ${step}, trained on ${config.problem}${config.symmetric ? ', time-symmetric' : ''})`,
    );
    if (config.problem !== o.problem)
      o.out.warn(`the model was trained on ${config.problem}; benchmarking it on ${o.problem}`);
    // Default: the symmetric rule's η values over the model's η0, so the learned rule is swept
    // over the same range of accuracy as the rule it corrects (at init it is that rule).
    const symEtas = sweeps.find((m) => m.name === 'symmetric')?.params ?? [];
    const params =
      o.learnedMin === undefined && symEtas.length === o.points
        ? symEtas.map((eta) => Number((eta / config.model.eta0).toPrecision(4)))
        : Array.from({ length: o.points }, (_, i) => {
            const lo = o.learnedMin ?? 2 ** ((1 - o.points) / 2);
            const f = o.points > 1 ? i / (o.points - 1) : 0;
            return Number((Math.SQRT2 * (lo / Math.SQRT2) ** f).toPrecision(4));
          });
    sweeps.push({
      name: 'learned',
      params,
      rule: (p) =>
        learnedRule(model, config.model.historyLen, { scale: p, symmetric: config.symmetric }),
    });
    dispose = () => model.dispose();
  }
  const total = sweeps.reduce((a, sw) => a + sw.params.length, 0);
  const view = progressView({ label: `timestepper bench ${o.problem}`, total, quiet: o.quiet });
  try {
    const initial = createState(problem.ic);
    const report: BenchReport = { problem: o.problem, tEnd, methods: [] };
    let done = 0;
    for (const sweep of sweeps) {
      const method = { name: sweep.name, points: [] as Method['points'] };
      report.methods.push(method);
      for (const param of sweep.params) {
        await yieldToLoop();
        if (o.signal?.aborted === true) break;
        const one = runComparison(o.problem, initial, tEnd, [{ ...sweep, params: [param] }], {
          maxForceEvals: o.maxForceEvals,
        });
        const p = one.methods[0]?.points[0];
        done++;
        if (p === undefined) continue;
        method.points.push(p);
        view.log(
          { forceEvals: p.forceEvals, maxRelEnergyError: p.maxRelEnergyError },
          { step: done, category: sweep.name },
        );
      }
    }
    await view.close({ exitCode: 0, preempting: false });
    if (o.signal?.aborted === true) {
      o.out.warn(`interrupted after ${done} of ${total} points: ${o.outFile} not written`);
      return { report, json: o.outFile, svg: '', interrupted: true };
    }
    mkdirSync(dirname(o.outFile), { recursive: true });
    writeFileAtomic(
      o.outFile,
      `${JSON.stringify(report, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2)}\n`,
    );
    const svg = o.outFile.replace(/\.json$/i, '') + '.svg';
    writeFileAtomic(svg, benchSvg(report, BENCH_TOLERANCE));
    return { report, json: o.outFile, svg, interrupted: false };
  } finally {
    if (!view.closed) await view.close({ exitCode: 0, preempting: false });
    dispose();
  }
}
