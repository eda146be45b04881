import { Rng } from '@x/core';
import { arrayStats, elementAt, isTensorLike, shapeOf, toFloat64, toScalar } from './arrays.js';
import type { BatchedConfig } from './config.js';

/**
 * One update of batched training. Arrays have one entry per environment (`[batch]`) and may be
 * plain arrays, typed arrays or tensors (`dataSync()`); scalars are numbers or 1-element tensors.
 * Any other numeric field is aggregated (arrays) or passed through (scalars) under its
 * snake_case name.
 */
export interface BatchData {
  updateStep: number;
  episodeReturns?: unknown;
  episodeLengths?: unknown;
  similarityScores?: unknown;
  successMask?: unknown;
  policyLoss?: unknown;
  valueLoss?: unknown;
  gradientNorm?: unknown;
  taskIds?: readonly unknown[];
  initialStates?: unknown;
  finalStates?: unknown;
  [key: string]: unknown;
}

const KNOWN: Record<string, { name: string; flag: keyof BatchedConfig }> = {
  episodeReturns: { name: 'reward', flag: 'logAggregatedRewards' },
  similarityScores: { name: 'similarity', flag: 'logAggregatedSimilarity' },
  episodeLengths: { name: 'episode_length', flag: 'logEpisodeLengths' },
  policyLoss: { name: 'policy_loss', flag: 'logLossMetrics' },
  valueLoss: { name: 'value_loss', flag: 'logLossMetrics' },
  gradientNorm: { name: 'gradient_norm', flag: 'logGradientNorms' },
};
const NOT_METRICS = new Set([
  'updateStep',
  'taskIds',
  'initialStates',
  'finalStates',
  'successMask',
]);

function snake(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

function isScalarInput(v: unknown): boolean {
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return true;
  return isTensorLike(v) && Array.isArray(v.shape) && v.shape.length === 0;
}

/** Aggregated metrics of a batch: `<name>_{mean,std,min,max}` per array, `success_rate`, scalars. */
export function aggregateBatch(
  batch: BatchData,
  cfg: BatchedConfig,
): { metrics: Record<string, number>; arrays: Record<string, Float64Array> } {
  const metrics: Record<string, number> = {};
  const arrays: Record<string, Float64Array> = {};
  for (const key of Object.keys(batch)) {
    const v = batch[key];
    if (v === undefined || v === null || NOT_METRICS.has(key)) continue;
    const known = KNOWN[key];
    if (known !== undefined && cfg[known.flag] === false) continue;
    const name = known?.name ?? snake(key);
    if (isScalarInput(v)) {
      const x = toScalar(v);
      if (x !== undefined) metrics[name] = x;
      continue;
    }
    const a = toFloat64(v);
    if (a === undefined) continue;
    const s = arrayStats(a);
    metrics[`${name}_mean`] = s.mean;
    metrics[`${name}_std`] = s.std;
    metrics[`${name}_max`] = s.max;
    metrics[`${name}_min`] = s.min;
    arrays[name] = a;
  }
  if (batch.successMask !== undefined && cfg.logSuccessRates) {
    const m = toFloat64(batch.successMask);
    if (m !== undefined) metrics['success_rate'] = arrayStats(m).mean;
  }
  return { metrics, arrays };
}

function batchSize(batch: BatchData): number {
  for (const key of ['episodeReturns', 'episodeLengths', 'similarityScores', 'successMask']) {
    const v = batch[key];
    if (v !== undefined && v !== null) return shapeOf(v)[0] ?? 0;
  }
  return 0;
}

/**
 * The environment indices sampled at an update step: all of them when `numSamples >= batch`,
 * otherwise `numSamples` distinct indices drawn from the stream `logBatch/sample/<updateStep>`
 * of the run's seed (the same for the same step, whatever happened before).
 */
export function sampleIndices(
  batch: number,
  numSamples: number,
  updateStep: number,
  seed = 0,
): number[] {
  if (numSamples >= batch) return Array.from({ length: batch }, (_, i) => i);
  return Rng.fromSeed(seed).stream('logBatch/sample', updateStep).sample(batch, numSamples);
}

/** Episode summaries of the sampled environments (JaxARC's `_sample_episodes_from_batch`). */
export function sampleBatch(
  batch: BatchData,
  cfg: BatchedConfig,
  seed = 0,
  withStates = cfg.includeFullStates,
): Record<string, unknown>[] {
  const n = batchSize(batch);
  const at = (key: string, i: number): number | undefined => {
    const v = batch[key];
    return v === undefined || v === null ? undefined : toScalar(elementAt(v, i));
  };
  return sampleIndices(n, cfg.numSamples, batch.updateStep, seed).map((i) => {
    const ep: Record<string, unknown> = {
      episode_num: batch.updateStep,
      total_reward: at('episodeReturns', i) ?? 0,
      total_steps: at('episodeLengths', i) ?? 0,
      final_similarity: at('similarityScores', i) ?? 0,
      success: (at('successMask', i) ?? 0) !== 0,
      environment_id: i,
      task_id: batch.taskIds?.[i] ?? `batch_task_${i}`,
    };
    if (withStates) {
      if (batch.initialStates !== undefined)
        ep['initial_state'] = elementAt(batch.initialStates, i) ?? null;
      if (batch.finalStates !== undefined)
        ep['final_state'] = elementAt(batch.finalStates, i) ?? null;
    }
    return ep;
  });
}
