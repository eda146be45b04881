import { resolve } from 'node:path';
import { applyState, loadFrom } from '@x/checkpoint';
import { Rng, XError, parseConfig } from '@x/core';
import { DtModel, featureSize, trainConfigSchema, type TrainConfig } from '@x/timestepper';

/** A trained model restored from `<ckpt|run-dir>` with the training config it was saved with. */
export async function loadLearnedModel(
  path: string,
  cwd: string,
): Promise<{ model: DtModel; config: TrainConfig; step: number; dir: string }> {
  const loaded = await loadFrom(resolve(cwd, path));
  const raw = loaded.manifest.metadata['config'];
  if (raw === undefined) {
    throw new XError(
      'INVALID_INPUT',
      `${loaded.dir}: the manifest has no timestepper config in its metadata; not a 'runner timestepper train' checkpoint`,
    );
  }
  const config = parseConfig(trainConfigSchema, raw, `${loaded.dir}/manifest.json metadata.config`);
  const model = new DtModel(
    {
      inputs: featureSize(config.model.historyLen),
      hidden: config.model.hidden,
      logEta0: Math.log(config.model.eta0),
      range: config.model.range,
    },
    Rng.fromSeed(0),
  );
  await applyState({ model }, loaded);
  return { model, config, step: loaded.manifest.step, dir: loaded.dir };
}
