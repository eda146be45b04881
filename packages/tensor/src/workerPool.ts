import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ErrorCodes, XError, type ErrorCode } from '@x/core';
import type { BackendName } from './backend.js';
import type { InitMessage, JobMessage, ReplyMessage } from './workerServe.js';

/**
 * The worker script to start for `script` (a built `.js` file): that file when it exists (built
 * `dist/`, a bundle), else the TypeScript source beside it run under tsx with the `@x/source`
 * condition (the workspace under vitest or tsx).
 */
export function workerScript(script: URL): { url: URL; execArgv: string[] } {
  if (existsSync(script)) return { url: script, execArgv: [] };
  const source = new URL(script.href.replace(/\.js$/, '.ts'));
  if (source.href === script.href || !existsSync(source))
    throw new XError('INTERNAL', `worker script not found: ${fileURLToPath(script)}`);
  return {
    url: source,
    // tsx by absolute URL: a bare `--import tsx` resolves from the working directory.
    execArgv: [
      '--conditions=@x/source',
      '--import',
      pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href,
    ],
  };
}

/** Options of {@link WorkerPool}. */
export interface WorkerPoolOptions<TInit> {
  /**
   * The built worker script, e.g. `new URL('./myWorker.js', import.meta.url)`; from TypeScript
   * source (no such file) the `.ts` beside it runs under tsx. The script calls {@link serveWorker}.
   */
  script: URL;
  /** Number of worker threads. */
  size: number;
  /** The backend each worker starts, single-threaded. */
  backend: BackendName;
  /** Data every worker gets once, before its first job (structured-cloned). */
  init: TInit;
  /** What a worker is called in errors, e.g. `'gradient worker'`. */
  name: string;
}

interface Pending {
  worker: number;
  resolve: (r: unknown) => void;
  reject: (e: Error) => void;
}

const isErrorCode = (code: string | undefined): code is ErrorCode =>
  code !== undefined && Object.hasOwn(ErrorCodes, code);

/**
 * Worker threads, each with its own single-threaded backend, that run jobs sent to a chosen
 * worker. Each worker runs its jobs one at a time in the order sent. A job that throws rejects
 * with an {@link XError} carrying the worker's code (else `INTERNAL`) and message, unchanged, so
 * it reads the same as on one thread (`details.worker` names the worker). A worker that crashes or exits fails the pool: its pending
 * jobs and every later {@link WorkerPool.run} reject with an `INTERNAL` error naming the worker.
 * Idle workers do not keep the process alive, so a pool can be kept between calls.
 *
 * @example
 * const pool = new WorkerPool<Init, Job, Result>({
 *   script: new URL('./myWorker.js', import.meta.url),
 *   size: 2, backend: 'wasm', init, name: 'my worker',
 * });
 * const results = await Promise.all(jobs.map((job, k) => pool.run(k % pool.size, job)));
 */
export class WorkerPool<TInit, TJob, TResult> {
  /** Number of workers. */
  readonly size: number;
  /** The backend the workers run. */
  readonly backend: BackendName;
  readonly #name: string;
  readonly #workers: Worker[] = [];
  readonly #busy: number[] = [];
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #failed: XError | undefined;
  #disposed = false;

  constructor(options: WorkerPoolOptions<TInit>) {
    this.size = options.size;
    this.backend = options.backend;
    this.#name = options.name;
    const { url, execArgv } = workerScript(options.script);
    const init: InitMessage = { kind: 'init', backend: options.backend, init: options.init };
    for (let i = 0; i < options.size; i++) {
      const w = new Worker(url, { execArgv });
      w.on('message', (r: ReplyMessage) => this.#settle(r));
      w.on('error', (err: Error) =>
        this.#fail(
          new XError('INTERNAL', `${this.#name} ${i} failed: ${err.message}`, { cause: err }),
        ),
      );
      w.on('exit', (code) => {
        if (!this.#disposed)
          this.#fail(new XError('INTERNAL', `${this.#name} ${i} exited with code ${code}`));
      });
      w.postMessage(init);
      w.unref();
      this.#workers.push(w);
      this.#busy.push(0);
    }
  }

  /** The error that failed the pool (a worker crashed or exited), if any. */
  get failed(): XError | undefined {
    return this.#failed;
  }

  /** Runs `job` on worker `worker` (0 ≤ worker < size), after the jobs sent to it before. */
  async run(worker: number, job: TJob): Promise<TResult> {
    if (this.#failed !== undefined) throw this.#failed;
    if (this.#disposed) throw new XError('INTERNAL', `${this.#name}s were stopped`);
    const w = this.#workers[worker];
    if (w === undefined)
      throw new XError(
        'INTERNAL',
        `${this.#name} ${worker}: no such worker (${this.size} workers)`,
      );
    const id = this.#nextId++;
    const message: JobMessage = { kind: 'job', id, job };
    return await new Promise<TResult>((resolve, reject) => {
      this.#pending.set(id, { worker, resolve: resolve as (r: unknown) => void, reject });
      const busy = (this.#busy[worker] ?? 0) + 1;
      this.#busy[worker] = busy;
      if (busy === 1) w.ref();
      w.postMessage(message);
    });
  }

  #settle(r: ReplyMessage): void {
    const p = this.#pending.get(r.id);
    if (p === undefined) return;
    this.#pending.delete(r.id);
    const busy = (this.#busy[p.worker] ?? 1) - 1;
    this.#busy[p.worker] = busy;
    if (busy === 0) this.#workers[p.worker]?.unref();
    if ('error' in r) {
      const code = isErrorCode(r.error.code) ? r.error.code : 'INTERNAL';
      const details = { worker: `${this.#name} ${p.worker}` };
      p.reject(new XError(code, r.error.message, { details }));
    } else p.resolve(r.result);
  }

  #fail(err: XError): void {
    this.#failed ??= err;
    for (const p of this.#pending.values()) p.reject(this.#failed);
    this.#pending.clear();
    this.#busy.fill(0);
    for (const w of this.#workers) w.unref();
  }

  /** Stops the workers; jobs still pending reject. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const p of this.#pending.values())
      p.reject(new XError('INTERNAL', `${this.#name}s stopped before the job finished`));
    this.#pending.clear();
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
