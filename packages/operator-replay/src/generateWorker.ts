import { parentPort } from 'node:worker_threads';
import { initBackend, type BackendName } from '@x/tensor';
import type { DatasetConfig } from './datasetConfig.js';
import type { OperatorRecord } from './datasetFile.js';
import { getFamily } from './features.js';
import { computeOperator } from './generate.js';

/** First message to a generation worker. */
export interface GenerateWorkerInit {
  kind: 'init';
  backend: BackendName;
}

/** One operator to compute. */
export interface GenerateWorkerJob {
  kind: 'job';
  id: number;
  config: DatasetConfig;
  index: number;
  realizationBatch?: number;
}

/** A worker's answer: the operator's record, or an error. */
export type GenerateWorkerReply =
  | { id: number; record: OperatorRecord }
  | { id: number; error: { message: string; code?: string } };

const port = parentPort;
let setup: Promise<GenerateWorkerInit> | undefined;
let queue: Promise<void> = Promise.resolve();

port?.on('message', (msg: GenerateWorkerInit | GenerateWorkerJob) => {
  if (msg.kind === 'init') {
    setup = initBackend({ backend: msg.backend, threads: 1 }).then(() => msg);
    return;
  }
  queue = queue.then(async () => {
    let reply: GenerateWorkerReply;
    try {
      if (setup === undefined) throw new Error('generation worker: job before init');
      await setup;
      const families = msg.config.inlineFamilies.map(getFamily);
      const { record } = computeOperator(msg.config, msg.index, families, {
        ...(msg.realizationBatch === undefined ? {} : { realizationBatch: msg.realizationBatch }),
      });
      reply = { id: msg.id, record };
    } catch (err) {
      const e = err as { message?: string; code?: string };
      reply = {
        id: msg.id,
        error: {
          message: e.message ?? String(err),
          ...(e.code === undefined ? {} : { code: e.code }),
        },
      };
    }
    port.postMessage(reply);
  });
});
