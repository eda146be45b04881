import { Rng, XError } from '@x/core';
import { integrate } from './integrate.js';
import { learnedRule } from './learnedRule.js';
import type { DtModel } from './model.js';
import { createState, type InitialConditions } from './nbody.js';
import { randomSystem, type ProblemName, type SystemFamily } from './problems.js';
import { symmetricRule, type StepRule } from './stepRules.js';

/** Options of {@link validateAgainstSymmetric}. */
export interface ValidationOptions {
  historyLen: number;
  symmetric: boolean;
  /** η of the model at initialisation (the symmetric rule it is compared with uses the same η). */
  eta0: number;
  /** Multiplier on both rules' dt (below 1: closer to the tolerance's operating point). */
  scale: number;
  /** Integration time per system. */
  horizon: number;
  tolerance: number;
  maxForceEvals: number;
}

/** Outcome of a validation run. */
export interface ValidationResult {
  /**
   * Median over systems of ln(learned / symmetric) estimated force evaluations at the tolerance
   * (the median: on chaotic families a rounding-level change of dt can change one system's error
   * by orders of magnitude).
   */
  score: number;
  /** Per-system estimated force evaluations at the tolerance. */
  systems: { learned: number; symmetric: number }[];
}

/**
 * Held-out validation systems of a problem's family, from the seeded stream
 * `timestepper-validation/<problem>/<i>` (`<problem>-near` for the `near` family; disjoint from
 * training streams, and not the benchmark's initial conditions).
 */
export function validationSystems(
  problem: ProblemName,
  count: number,
  eps: number,
  plummerN = 100,
  family: SystemFamily = 'wide',
): InitialConditions[] {
  const root = Rng.fromSeed('timestepper-validation');
  return Array.from({ length: count }, (_, i) => ({
    ...randomSystem(
      problem,
      root.stream(family === 'wide' ? problem : `${problem}-near`, i),
      plummerN,
      family,
    ),
    eps,
  }));
}

/**
 * Force evaluations a rule would need at the tolerance, estimated from one run under the
 * leapfrog's second-order scaling: `evals · sqrt(maxErr / tol)`.
 */
function atTolerance(evals: number, maxRel: number, tol: number): number {
  return evals * Math.sqrt(Math.max(maxRel, 1e-16) / tol);
}

/**
 * Compares the learned rule with the time-symmetric rule at the same η on held-out systems:
 * the score is the median log ratio of their estimated force evaluations at the tolerance
 * (negative: the learned rule is cheaper; 0: no change, as for an untrained model).
 */
export function validateAgainstSymmetric(
  model: DtModel,
  systems: readonly InitialConditions[],
  o: ValidationOptions,
): ValidationResult {
  const out: ValidationResult['systems'] = [];
  const ratios: number[] = [];
  for (const ic of systems) {
    const s0 = createState(ic);
    const opts = { tEnd: o.horizon, maxForceEvals: o.maxForceEvals };
    const cost = (rule: StepRule): number => {
      try {
        const r = integrate(s0, rule, opts);
        return r.completed ? atTolerance(r.forceEvals, r.maxRelEnergyError, o.tolerance) : Infinity;
      } catch (e) {
        // A rule that produced a non-finite dt (a NUMERICAL error) is unusable on this system.
        if (e instanceof XError && e.code === 'NUMERICAL') return Infinity;
        throw e;
      }
    };
    const learned = cost(
      learnedRule(model, o.historyLen, { scale: o.scale, symmetric: o.symmetric }),
    );
    const symmetric = cost(symmetricRule(o.eta0 * o.scale));
    out.push({ learned, symmetric });
    ratios.push(
      Number.isFinite(learned) && Number.isFinite(symmetric)
        ? Math.log(learned / symmetric)
        : learned === symmetric
          ? 0
          : learned < symmetric
            ? -Infinity
            : Infinity,
    );
  }
  ratios.sort((a, b) => a - b);
  const n = ratios.length;
  const median =
    n === 0 ? 0 : n % 2 === 1 ? ratios[(n - 1) / 2]! : 0.5 * (ratios[n / 2 - 1]! + ratios[n / 2]!);
  return { score: Number.isNaN(median) ? 0 : median, systems: out };
}
