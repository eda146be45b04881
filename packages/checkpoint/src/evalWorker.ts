import { Worker } from 'node:worker_threads';

/**
 * Starts a worker from plain JavaScript source (so it runs the same from source and dist), unref'd
 * so that it does not keep the process alive while idle. `fail` receives its error, or its exit
 * as `<label> worker exited with code <n>`. Undefined when no worker can be started here.
 */
export function startEvalWorker<M>(
  source: string,
  label: string,
  on: { message: (m: M) => void; fail: (err: Error) => void },
): Worker | undefined {
  try {
    const w = new Worker(source, { eval: true, name: `x-checkpoint-${label}` });
    w.unref();
    w.on('message', on.message);
    w.on('error', on.fail);
    w.on('exit', (code) => on.fail(new Error(`${label} worker exited with code ${code}`)));
    return w;
  } catch {
    return undefined;
  }
}
