import { serveWorker } from '@x/tensor';
import type { DatasetConfig } from './datasetConfig.js';
import type { OperatorRecord } from './datasetFile.js';
import { getFamily } from './features.js';
import { computeOperator } from './generate.js';

/** One operator to compute. */
export interface GenerateWorkerJob {
  config: DatasetConfig;
  index: number;
  realizationBatch?: number;
}

serveWorker<undefined, GenerateWorkerJob, OperatorRecord>((_, job) => {
  const families = job.config.inlineFamilies.map(getFamily);
  return computeOperator(job.config, job.index, families, {
    ...(job.realizationBatch === undefined ? {} : { realizationBatch: job.realizationBatch }),
  }).record;
});
