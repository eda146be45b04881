import { describe, expect, it } from 'vitest';
import { aggregateBatch, sampleBatch, sampleIndices } from './batched.js';
import { parseLoggingConfig } from './config.js';
import { EPISODE_PICTURE, ExperimentLogger } from './experimentLogger.js';
import type { EpisodeRecord, HistogramRecord, MetricRow, Sink } from './types.js';

const cfg = parseLoggingConfig({}).batched;
const tensor = (values: number[], shape = [values.length]) => ({
  shape,
  dataSync: () => Float32Array.from(values),
});

describe('aggregateBatch', () => {
  it('computes mean/std/min/max per array, success rate and passes scalars through', () => {
    const { metrics } = aggregateBatch(
      {
        updateStep: 10,
        episodeReturns: [1, 2, 3, 4],
        episodeLengths: Int32Array.of(10, 20, 30, 40),
        similarityScores: tensor([0.5, 0.5, 1, 1]),
        successMask: [true, false, true, true],
        policyLoss: 0.25,
        valueLoss: tensor([0.5], []),
        gradientNorm: 3,
        entropyPerEnv: Float64Array.of(0, 2),
        learningRate: 0.001,
        taskIds: ['a', 'b', 'c', 'd'],
      },
      cfg,
    );
    expect(metrics['reward_mean']).toBe(2.5);
    expect(metrics['reward_std']).toBeCloseTo(Math.sqrt(1.25), 12);
    expect(metrics['reward_min']).toBe(1);
    expect(metrics['reward_max']).toBe(4);
    expect(metrics['episode_length_mean']).toBe(25);
    expect(metrics['similarity_mean']).toBe(0.75);
    expect(metrics['success_rate']).toBe(0.75);
    expect(metrics['policy_loss']).toBe(0.25);
    expect(metrics['value_loss']).toBe(0.5);
    expect(metrics['gradient_norm']).toBe(3);
    expect(metrics['entropy_per_env_mean']).toBe(1);
    expect(metrics['entropy_per_env_std']).toBe(1);
    expect(metrics['learning_rate']).toBe(0.001);
    expect(Object.keys(metrics).some((k) => k.startsWith('task'))).toBe(false);
  });

  it('honours the per-group switches', () => {
    const off = parseLoggingConfig({
      batched: { logAggregatedRewards: false, logSuccessRates: false },
    }).batched;
    const { metrics } = aggregateBatch(
      { updateStep: 0, episodeReturns: [1], successMask: [1], policyLoss: 1 },
      off,
    );
    expect(metrics).toEqual({ policy_loss: 1 });
  });
});

describe('sampling', () => {
  it('is deterministic in the update step, without replacement, and independent of history', () => {
    const a = sampleIndices(100, 5, 50, 7);
    expect(new Set(a).size).toBe(5);
    expect(a.every((i) => i >= 0 && i < 100)).toBe(true);
    sampleIndices(100, 5, 100, 7);
    expect(sampleIndices(100, 5, 50, 7)).toEqual(a);
    expect(sampleIndices(100, 5, 100, 7)).not.toEqual(a);
    expect(sampleIndices(3, 5, 50, 7)).toEqual([0, 1, 2]);
  });

  it('builds JaxARC-style episode summaries', () => {
    const full = parseLoggingConfig({
      batched: { numSamples: 2, includeFullStates: true },
    }).batched;
    const eps = sampleBatch(
      {
        updateStep: 50,
        episodeReturns: [10, 20, 30],
        episodeLengths: [1, 2, 3],
        similarityScores: [0.1, 0.2, 0.3],
        successMask: Uint8Array.of(0, 1, 0),
        taskIds: ['t0', 't1', 't2'],
        finalStates: tensor([0, 0, 1, 1, 2, 2], [3, 2]),
      },
      full,
    );
    expect(eps).toHaveLength(2);
    for (const e of eps) {
      const i = e['environment_id'] as number;
      expect(e).toMatchObject({
        episode_num: 50,
        total_reward: [10, 20, 30][i],
        total_steps: i + 1,
        success: i === 1,
        task_id: `t${i}`,
        final_state: [i, i],
      });
      expect(e['final_similarity']).toBeCloseTo([0.1, 0.2, 0.3][i]!, 6);
    }
  });
});

describe('ExperimentLogger.logBatch', () => {
  it('logs aggregates at logFrequency and samples at sampleFrequency through the sinks', async () => {
    const rows: MetricRow[] = [];
    const eps: EpisodeRecord[] = [];
    const hs: HistogramRecord[] = [];
    const sink: Sink = {
      name: 'mem',
      writeRows: (r) => void rows.push(...r),
      writeEpisodes: (e) => void eps.push(...e),
      writeHistograms: (h) => void hs.push(...h),
    };
    const logger = new ExperimentLogger({
      run: { runDir: '/x', pipeline: 't', config: {}, startStep: 0, resumed: false },
      sinks: [sink],
      seed: 5,
      config: parseLoggingConfig({
        batched: { logFrequency: 2, sampleFrequency: 4, numSamples: 2, histograms: true },
      }),
    });
    for (let u = 0; u <= 8; u++) {
      logger.logBatch({
        updateStep: u,
        episodeReturns: [u, u + 1, u + 2, u + 3],
        successMask: [1, 0, 0, 0],
        policyLoss: u,
      });
    }
    await logger.close();
    expect(rows.map((r) => r.step)).toEqual([0, 2, 4, 6, 8]);
    expect(rows[1]!.values).toMatchObject({
      'batch/reward_mean': 3.5,
      'batch/success_rate': 0.25,
      'batch/policy_loss': 2,
    });
    expect(eps.map((e) => e.step)).toEqual([0, 0, 4, 4, 8, 8]);
    expect(eps.every((e) => e.category === 'batch')).toBe(true);
    expect(eps.filter((e) => e.step === 4).map((e) => e.data['environment_id'])).toEqual(
      sampleIndices(4, 2, 4, 5),
    );
    expect(hs.map((h) => h.name)).toContain('batch/reward');
  });

  it('draws sampled environments when a batch/episode renderer is registered', async () => {
    const pics: string[] = [];
    const eps: EpisodeRecord[] = [];
    const logger = new ExperimentLogger({
      run: { runDir: '/x', pipeline: 't', config: {}, startStep: 0, resumed: false },
      sinks: [
        {
          name: 'mem',
          writePicture: (p) => void pics.push(`${p.name}:${p.svg}`),
          writeEpisodes: (e) => void eps.push(...e),
        },
      ],
      config: parseLoggingConfig({ batched: { numSamples: 1 } }),
    });
    logger.registerRenderer(
      EPISODE_PICTURE,
      (d) => `<svg>${JSON.stringify((d as Record<string, unknown>)['final_state'])}</svg>`,
    );
    logger.logBatch({ updateStep: 0, episodeReturns: [1, 2], finalStates: [[7], [8]] });
    await logger.close();
    expect(pics).toHaveLength(1);
    expect(pics[0]).toMatch(/^batch\/env_(0:<svg>\[7\]|1:<svg>\[8\])<\/svg>$/);
    expect(eps[0]!.data['final_state']).toBeUndefined();
  });
});
