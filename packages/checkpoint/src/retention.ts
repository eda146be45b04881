import { z } from 'zod';

/** Which checkpoints to keep; a checkpoint is kept when any rule keeps it. Without rules, all are kept. */
export const RetentionSchema = z.strictObject({
  /** Keep the newest N checkpoints. */
  keepLast: z.number().int().positive().optional(),
  /** Keep every checkpoint whose step is a multiple of K. */
  keepEvery: z.number().int().positive().optional(),
  /** Keep the best n checkpoints by a metric recorded at save time. */
  best: z
    .strictObject({
      metric: z.string().min(1),
      mode: z.enum(['min', 'max']),
      n: z.number().int().positive().default(1),
    })
    .optional(),
});

/** Retention rules (see {@link RetentionSchema}). */
export type RetentionPolicy = z.input<typeof RetentionSchema>;

/** What retention needs to know about a checkpoint. */
export interface RetentionCandidate {
  step: number;
  metrics?: Record<string, number> | undefined;
}

/** The step of the best checkpoint by the policy's metric (undefined without a `best` rule or values). */
export function bestStep(
  policy: RetentionPolicy,
  candidates: readonly RetentionCandidate[],
): number | undefined {
  return rankByMetric(policy, candidates)[0];
}

function rankByMetric(
  policy: RetentionPolicy,
  candidates: readonly RetentionCandidate[],
): number[] {
  const best = policy.best;
  if (best === undefined) return [];
  const scored = candidates
    .map((c) => ({ step: c.step, v: c.metrics?.[best.metric] }))
    .filter((c): c is { step: number; v: number } => typeof c.v === 'number' && !Number.isNaN(c.v));
  const sign = best.mode === 'min' ? 1 : -1;
  scored.sort((a, b) => sign * (a.v - b.v) || b.step - a.step);
  return scored.map((c) => c.step);
}

/**
 * The steps to delete under a policy: everything no rule keeps, never the newest and never the
 * best. Without any rule nothing is deleted.
 */
export function stepsToDelete(
  policy: RetentionPolicy,
  candidates: readonly RetentionCandidate[],
): number[] {
  if (policy.keepLast === undefined && policy.keepEvery === undefined && policy.best === undefined)
    return [];
  const steps = [...new Set(candidates.map((c) => c.step))].sort((a, b) => a - b);
  const keep = new Set<number>();
  if (steps.length > 0) keep.add(steps[steps.length - 1] as number);
  if (policy.keepLast !== undefined) for (const s of steps.slice(-policy.keepLast)) keep.add(s);
  if (policy.keepEvery !== undefined)
    for (const s of steps) if (s % policy.keepEvery === 0) keep.add(s);
  const ranked = rankByMetric(policy, candidates);
  for (const s of ranked.slice(0, Math.max(1, policy.best?.n ?? 1))) keep.add(s);
  return steps.filter((s) => !keep.has(s));
}
