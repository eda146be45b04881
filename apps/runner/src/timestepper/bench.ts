import { mkdirSync, writeFileSync } from 'node:fs';
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
import type { Output } from '../command.js';
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
  /** Smallest dt multiplier of the learned sweep (default 2^((1 − points)/2)). */
  learnedMin?: number;
  out: Output;
  /** Stops between points when aborted (the partial report is still written). */
  signal?: AbortSignal;
}

/**
 * Sweeps fixed, adaptive, symmetric and aarseth (and the learned rule from a checkpoint, its dt
 * multiplied by √2 … learnedMin, log-spaced) to `tEnd`, writes the contract's JSON and an SVG beside it.
 */
export async function runTimestepperBench(
  o: BenchOptions,
): Promise<{ report: BenchReport; json: string; svg: string }> {
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
    const lo = o.learnedMin ?? 2 ** ((1 - o.points) / 2);
    const params = Array.from({ length: o.points }, (_, i) =>
      Number(
        (Math.SQRT2 * (lo / Math.SQRT2) ** (o.points > 1 ? i / (o.points - 1) : 0)).toPrecision(4),
      ),
    );
    sweeps.push({
      name: 'learned',
      params,
      rule: (p) =>
        learnedRule(model, config.model.historyLen, { scale: p, symmetric: config.symmetric }),
    });
    dispose = () => model.dispose();
  }
  try {
    const initial = createState(problem.ic);
    const report: BenchReport = { problem: o.problem, tEnd, methods: [] };
    for (const sweep of sweeps) {
      const method = { name: sweep.name, points: [] as BenchReport['methods'][number]['points'] };
      report.methods.push(method);
      for (const param of sweep.params) {
        if (o.signal?.aborted === true) break;
        await new Promise((done) => setImmediate(done));
        const one = runComparison(o.problem, initial, tEnd, [{ ...sweep, params: [param] }], {
          maxForceEvals: o.maxForceEvals,
        });
        const p = one.methods[0]?.points[0];
        if (p === undefined) continue;
        method.points.push(p);
        o.out.info(
          `${sweep.name.padEnd(9)} param ${p.param.toPrecision(4).padStart(10)}  force evals ${String(p.forceEvals).padStart(9)}  max ${p.maxRelEnergyError.toExponential(2)}  final ${p.finalRelEnergyError.toExponential(2)}${p.completed ? '' : '  (budget hit)'}`,
        );
      }
    }
    if (o.signal?.aborted === true) o.out.warn('interrupted: writing the points measured so far');
    mkdirSync(dirname(o.outFile), { recursive: true });
    writeFileSync(
      o.outFile,
      `${JSON.stringify(report, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2)}\n`,
    );
    const svg = o.outFile.replace(/\.json$/i, '') + '.svg';
    writeFileSync(svg, benchSvg(report));
    for (const m of report.methods) {
      const best = cheapestWithin(m, 1e-4);
      o.out.info(
        `${m.name.padEnd(9)} cheapest with max |ΔE/E0| ≤ 1e-4: ${best === undefined ? 'none in the sweep' : `${best.forceEvals} force evals (param ${best.param}, max ${best.maxRelEnergyError.toExponential(2)})`}`,
      );
    }
    return { report, json: o.outFile, svg };
  } finally {
    dispose();
  }
}
