import type { TrainConfig } from './config.js';
import type { ModelState } from './model.js';
import type { InitialConditions } from './nbody.js';
import { TimestepTrainer } from './trainer.js';
import { validateAgainstSymmetric, type ValidationOptions } from './wpValidate.js';

/** Options of {@link trainAndSelect}. */
export interface SelectOptions {
  seeds: readonly number[];
  epochs: number;
  /** Validate (and possibly keep the weights) every this many epochs. */
  validateEvery: number;
  systems: readonly InitialConditions[];
  validation: Omit<ValidationOptions, 'historyLen' | 'symmetric' | 'eta0'>;
  /**
   * A trained model is kept only when its score is below −margin (default 0): small validation
   * gains do not survive the benchmark's longer horizon reliably.
   */
  margin?: number;
  /** Called after each validation. */
  onValidate?: (seed: number, epoch: number, score: number) => void;
}

/** The best validated weights over every seed and validation point. */
export interface Selection {
  /** The kept weights, or undefined when nothing beat the untrained model (the symmetric rule). */
  state: ModelState | undefined;
  seed: number | undefined;
  epoch: number;
  /** Validation score of the kept weights (0: the untrained model). */
  score: number;
  /** Best score per seed. */
  perSeed: { seed: number; epoch: number; score: number }[];
}

/**
 * Trains one model per seed (`new TimestepTrainer(config, seed)`: every draw from that seed's
 * named streams) and keeps the weights with the lowest validation score over all seeds and
 * validation points; the untrained model (score 0: exactly the time-symmetric rule at η0) is the
 * candidate to beat, so selection never keeps a model that validated worse than it.
 */
export async function trainAndSelect(config: TrainConfig, o: SelectOptions): Promise<Selection> {
  const best: Selection = { state: undefined, seed: undefined, epoch: 0, score: 0, perSeed: [] };
  const vo: ValidationOptions = {
    ...o.validation,
    historyLen: config.model.historyLen,
    symmetric: config.symmetric,
    eta0: config.model.eta0,
  };
  for (const seed of o.seeds) {
    const t = new TimestepTrainer(config, seed);
    const mine = { seed, epoch: 0, score: Infinity };
    try {
      for (let e = 1; e <= o.epochs; e++) {
        await t.epoch();
        if (e % o.validateEvery !== 0 && e !== o.epochs) continue;
        const score = validateAgainstSymmetric(t.model, o.systems, vo).score;
        o.onValidate?.(seed, e, score);
        if (score < mine.score) Object.assign(mine, { epoch: e, score });
        if (score < best.score && score < -(o.margin ?? 0)) {
          best.state = await t.model.getState();
          best.seed = seed;
          best.epoch = e;
          best.score = score;
        }
      }
    } finally {
      t.dispose();
    }
    best.perSeed.push(mine);
  }
  return best;
}
