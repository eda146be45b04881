import { integrate } from './integrate.js';
import type { NBodyState } from './nbody.js';
import { makeProblem, type ProblemName } from './problems.js';
import { aarsethRule, adaptiveRule, fixedRule, symmetricRule, type StepRule } from './stepRules.js';

/** One point of a method's sweep (the contract's benchmark JSON). */
export interface BenchPoint {
  param: number;
  forceEvals: number;
  maxRelEnergyError: number;
  finalRelEnergyError: number;
  wallSeconds: number;
  /** Extra: false when the force-evaluation budget ran out before tEnd. */
  completed: boolean;
  steps: number;
}

/** A method's sweep. */
export interface BenchMethod {
  name: string;
  points: BenchPoint[];
}

/** The `runner timestepper bench --out` document. */
export interface BenchReport {
  problem: string;
  tEnd: number;
  methods: BenchMethod[];
}

/** A method to sweep: its name, parameter values, and the rule for a parameter value. */
export interface MethodSweep {
  name: string;
  params: number[];
  rule: (param: number) => StepRule;
}

function logspace(hi: number, lo: number, n: number): number[] {
  if (n === 1) return [hi];
  return Array.from({ length: n }, (_, i) =>
    Number((hi * (lo / hi) ** (i / (n - 1))).toPrecision(4)),
  );
}

/** Default parameter ranges per problem (fixed: total steps to the reference tEnd, scaled to the run's tEnd; others: η). */
const RANGES: Record<
  ProblemName,
  { fixedSteps: [number, number]; eta: [number, number]; aarseth: [number, number] }
> = {
  kepler: { fixedSteps: [1e5, 1e7], eta: [0.05, 0.002], aarseth: [0.01, 3e-5] },
  figure8: { fixedSteps: [300, 3e4], eta: [0.3, 0.01], aarseth: [0.3, 1e-3] },
  pythagorean: { fixedSteps: [1e4, 3e6], eta: [0.02, 1e-4], aarseth: [1e-3, 1e-7] },
  plummer: { fixedSteps: [1e3, 3e4], eta: [0.3, 0.01], aarseth: [0.3, 1e-3] },
};

/** The four analytic methods with default sweeps for a problem (`points` values each). */
export function defaultSweeps(problem: ProblemName, tEnd: number, points = 6): MethodSweep[] {
  const r = RANGES[problem];
  const span = Math.max(tEnd / makeProblem(problem).tEnd, 1e-3);
  return [
    {
      name: 'fixed',
      params: logspace(tEnd / (span * r.fixedSteps[0]), tEnd / (span * r.fixedSteps[1]), points),
      rule: fixedRule,
    },
    { name: 'adaptive', params: logspace(r.eta[0], r.eta[1], points), rule: adaptiveRule },
    {
      name: 'symmetric',
      params: logspace(r.eta[0], r.eta[1], points),
      rule: (p) => symmetricRule(p),
    },
    { name: 'aarseth', params: logspace(r.aarseth[0], r.aarseth[1], points), rule: aarsethRule },
  ];
}

/** Sweeps every method over its parameters and returns the benchmark document. */
export function runComparison(
  problem: string,
  initial: NBodyState,
  tEnd: number,
  sweeps: readonly MethodSweep[],
  options: { maxForceEvals?: number; onPoint?: (method: string, p: BenchPoint) => void } = {},
): BenchReport {
  const methods = sweeps.map((m) => ({
    name: m.name,
    points: m.params.map((param) => {
      const r = integrate(initial, m.rule(param), {
        tEnd,
        maxForceEvals: options.maxForceEvals ?? 2e7,
      });
      const p: BenchPoint = {
        param,
        forceEvals: r.forceEvals,
        maxRelEnergyError: r.maxRelEnergyError,
        finalRelEnergyError: r.finalRelEnergyError,
        wallSeconds: r.wallSeconds,
        completed: r.completed,
        steps: r.steps,
      };
      options.onPoint?.(m.name, p);
      return p;
    }),
  }));
  return { problem, tEnd, methods };
}

/** The cheapest completed point of a method whose max relative energy error is at most `tol`. */
export function cheapestWithin(method: BenchMethod, tol: number): BenchPoint | undefined {
  let best: BenchPoint | undefined;
  for (const p of method.points) {
    if (
      p.completed &&
      p.maxRelEnergyError <= tol &&
      (best === undefined || p.forceEvals < best.forceEvals)
    )
      best = p;
  }
  return best;
}

/** Options of {@link operatingPoint}. */
export interface OperatingPointOptions {
  /** Largest (cheapest) parameter tried first. */
  hi: number;
  /** Smallest parameter tried before giving up. */
  lo: number;
  tolerance: number;
  /** Geometric bisection steps after the first passing parameter is bracketed. */
  bisections: number;
  maxForceEvals: number;
}

/** The cheapest point within the tolerance found by {@link operatingPoint}, and every point run. */
export interface OperatingPoint {
  best: BenchPoint | undefined;
  points: BenchPoint[];
}

/**
 * The tolerance sweep of one rule: halves the rule's accuracy parameter from `hi` (a larger
 * parameter means larger steps for every rule here) until a run's max |ΔE/E0| is within the
 * tolerance (doubling instead while `hi` already passes), then bisects geometrically between that parameter and the last failing one. The same
 * procedure for every rule picks each one's operating point fairly; on a non-monotone error curve
 * it finds the largest passing parameter near the first crossing.
 */
export function operatingPoint(
  initial: NBodyState,
  tEnd: number,
  rule: (param: number) => StepRule,
  o: OperatingPointOptions,
): OperatingPoint {
  const points: BenchPoint[] = [];
  const run = (param: number): BenchPoint => {
    const r = integrate(initial, rule(param), { tEnd, maxForceEvals: o.maxForceEvals });
    const p: BenchPoint = {
      param,
      forceEvals: r.forceEvals,
      maxRelEnergyError: r.maxRelEnergyError,
      finalRelEnergyError: r.finalRelEnergyError,
      wallSeconds: r.wallSeconds,
      completed: r.completed,
      steps: r.steps,
    };
    points.push(p);
    return p;
  };
  const ok = (p: BenchPoint) => p.completed && p.maxRelEnergyError <= o.tolerance;
  let fail: number | undefined;
  let pass: number | undefined;
  for (let param = o.hi; param >= o.lo * (1 - 1e-9); param /= 2) {
    const p = run(param);
    if (ok(p)) {
      pass = param;
      break;
    }
    if (!p.completed) break;
    fail = param;
  }
  // `hi` already passes: double until a run fails, so the bisection has a bracket.
  for (let k = 0; pass !== undefined && fail === undefined && k < 8; k++) {
    const up = pass * 2;
    if (ok(run(up))) pass = up;
    else fail = up;
  }
  if (pass !== undefined && fail !== undefined) {
    let up = fail;
    let down = pass;
    for (let i = 0; i < o.bisections; i++) {
      const mid = Math.sqrt(up * down);
      if (ok(run(mid))) down = mid;
      else up = mid;
    }
  }
  let best: BenchPoint | undefined;
  for (const p of points)
    if (ok(p) && (best === undefined || p.forceEvals < best.forceEvals)) best = p;
  return { best, points };
}
