import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { XError } from '@x/core';
import type { Rng } from '@x/core';
import type { Agent, request } from 'undici';
import { redact } from './redact.js';
import { backoffDelay, isRetryableStatus, parseRetryAfter, type RetryOptions } from './retry.js';
import type { ApiKey } from './settings.js';

/** A notice raised by the transport (retries, recoveries). */
export interface TransportNotice {
  level: 'info' | 'warn' | 'error';
  message: string;
}

/** Options of {@link WandbTransport}. */
export interface TransportOptions {
  baseUrl: string;
  apiKey: ApiKey | undefined;
  retry: RetryOptions & { graphqlMaxAttempts: number };
  requestTimeoutMs: number;
  graphqlTimeoutMs: number;
  rng: Rng;
  notify(notice: TransportNotice): void;
  /** Replaceable for tests; must reject when `signal` aborts. */
  sleep?(ms: number, signal: AbortSignal): Promise<void>;
}

/** undici's pooled agent and request function, loaded on the first request. */
interface Client {
  agent: Agent;
  request: typeof request;
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** Thrown for a request that failed for good (non-retryable status, attempts exhausted, aborted). */
export class WandbRequestError extends XError {
  readonly status: number | undefined;
  readonly retryable: boolean;
  constructor(message: string, status: number | undefined, retryable: boolean) {
    super('ENVIRONMENT', message, { details: { status } });
    this.status = status;
    this.retryable = retryable;
  }
}

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new Error('aborted'));
      return;
    }
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new Error('aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function header(h: RawResponse['headers'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * W&B's HTTP API over undici: GraphQL, file_stream and presigned uploads, with retries
 * (exponential backoff with seeded jitter, `Retry-After` honoured, the SDK's non-retryable
 * statuses) and, like the SDK, a pause when the server reports `RateLimit-Remaining: 0` until
 * `RateLimit-Reset`. Credentials go only to the base URL's origin, never to upload URLs.
 */
export class WandbTransport {
  readonly #o: TransportOptions;
  /** undici, imported on the first request: it is a third of `@x/logging`'s import time. */
  #client: Promise<Client> | undefined;
  #closed = false;
  readonly #origin: string;
  #abort = new AbortController();
  #notBefore = 0;

  constructor(options: TransportOptions) {
    this.#o = options;
    this.#origin = new URL(options.baseUrl).origin;
  }

  /** Cancels pending waits and requests; later calls fail at once. */
  abort(): void {
    this.#abort.abort();
  }

  get aborted(): boolean {
    return this.#abort.signal.aborted;
  }

  /** Closes the connection pool (a transport closed before its first request never loads undici). */
  async close(): Promise<void> {
    this.#closed = true;
    const client = await this.#client?.catch(() => undefined);
    await client?.agent.close().catch(() => undefined);
  }

  #loadClient(): Promise<Client> {
    if (this.#closed && this.#client === undefined) {
      return Promise.reject(new WandbRequestError('the W&B transport is closed', undefined, false));
    }
    this.#client ??= import('undici').then(
      (u) => ({
        agent: new u.Agent({ keepAliveTimeout: 10_000, connect: { timeout: 10_000 } }),
        request: u.request,
      }),
      (err: unknown) => {
        throw new WandbRequestError(
          `cannot load undici, W&B's HTTP client (it needs Node.js 22.19 or newer, this is ${process.versions.node}): ${(err as Error).message}`,
          undefined,
          false,
        );
      },
    );
    return this.#client;
  }

  #rateLimit(headers: RawResponse['headers']): void {
    const remaining = Number(header(headers, 'ratelimit-remaining'));
    const reset = Number(header(headers, 'ratelimit-reset'));
    if (Number.isFinite(remaining) && remaining <= 0 && Number.isFinite(reset) && reset > 0) {
      this.#notBefore = Date.now() + Math.min(reset, 300) * 1000;
    }
  }

  #redact(s: string): string {
    return redact(s, this.#o.apiKey);
  }

  async #send(
    url: string,
    method: 'POST' | 'PUT',
    headers: Record<string, string>,
    body: string | Buffer | Readable,
    timeoutMs: number,
    auth: boolean,
  ): Promise<RawResponse> {
    const h: Record<string, string> = { 'user-agent': 'x-logging-wandb/0.1', ...headers };
    if (auth && new URL(url).origin === this.#origin && this.#o.apiKey !== undefined) {
      h['authorization'] =
        `Basic ${Buffer.from(`api:${this.#o.apiKey.reveal()}`).toString('base64')}`;
    }
    const client = await this.#loadClient();
    const res = await client.request(url, {
      method,
      headers: h,
      body,
      dispatcher: client.agent,
      signal: this.#abort.signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, text };
  }

  async #withRetry(
    label: string,
    kind: 'upsert' | 'other',
    maxAttempts: number,
    send: () => Promise<RawResponse>,
  ): Promise<RawResponse> {
    const signal = this.#abort.signal;
    for (let attempt = 0; ; attempt++) {
      let failure: string;
      let wait: number | undefined;
      let status: number | undefined;
      try {
        if (signal.aborted) throw new WandbRequestError(`${label}: cancelled`, undefined, true);
        const hold = this.#notBefore - Date.now();
        if (hold > 0) await (this.#o.sleep ?? defaultSleep)(hold, signal);
        const res = await send();
        status = res.status;
        this.#rateLimit(res.headers);
        if (res.status < 300) {
          if (attempt > 0) {
            this.#o.notify({
              level: 'info',
              message: `wandb: ${label} succeeded after ${attempt} retries`,
            });
          }
          return res;
        }
        const snippet = this.#redact(res.text.slice(0, 200)).replace(/\s+/g, ' ');
        failure = `HTTP ${res.status}${res.status === 429 ? ' (rate limited)' : ''}${snippet === '' ? '' : `: ${snippet}`}`;
        if (!isRetryableStatus(res.status, kind)) {
          throw new WandbRequestError(`${label}: ${failure} (not retried)`, res.status, false);
        }
        wait = parseRetryAfter(header(res.headers, 'retry-after'), Date.now());
      } catch (err) {
        if (err instanceof WandbRequestError) throw err;
        if (signal.aborted) throw new WandbRequestError(`${label}: cancelled`, status, true);
        const e = err as Error & { code?: string };
        failure = this.#redact(`${e.code ?? e.name}: ${e.message}`);
      }
      if (attempt + 1 >= maxAttempts) {
        throw new WandbRequestError(
          `${label}: ${failure}; gave up after ${attempt + 1} attempts`,
          status,
          true,
        );
      }
      const delay = wait ?? backoffDelay(attempt, this.#o.retry, this.#o.rng);
      if (attempt < 3 || (attempt & (attempt + 1)) === 0) {
        this.#o.notify({
          level: 'warn',
          message: `wandb: ${label} failed (${failure}); retry ${attempt + 1} in ${(delay / 1000).toFixed(1)} s${wait === undefined ? '' : ' (Retry-After)'}`,
        });
      }
      try {
        await (this.#o.sleep ?? defaultSleep)(delay, signal);
      } catch {
        throw new WandbRequestError(
          `${label}: cancelled while waiting to retry (${failure})`,
          status,
          true,
        );
      }
    }
  }

  /** Runs a GraphQL operation and returns its `data`; GraphQL errors are not retried. */
  async graphql<T>(
    name: string,
    query: string,
    variables: Record<string, unknown>,
    kind: 'upsert' | 'other' = 'other',
  ): Promise<T> {
    const body = JSON.stringify({ query, variables });
    const res = await this.#withRetry(name, kind, this.#o.retry.graphqlMaxAttempts, () =>
      this.#send(
        `${this.#o.baseUrl}/graphql`,
        'POST',
        { 'content-type': 'application/json' },
        body,
        this.#o.graphqlTimeoutMs,
        true,
      ),
    );
    let parsed: { data?: T; errors?: { message?: string }[] };
    try {
      parsed = JSON.parse(res.text) as typeof parsed;
    } catch {
      throw new WandbRequestError(`${name}: the server answered with non-JSON`, res.status, false);
    }
    if (parsed.errors !== undefined && parsed.errors.length > 0) {
      const msg = parsed.errors.map((x) => x.message ?? '?').join('; ');
      throw new WandbRequestError(`${name}: ${this.#redact(msg)}`, res.status, false);
    }
    if (parsed.data === undefined) {
      throw new WandbRequestError(`${name}: the server answered without data`, res.status, false);
    }
    return parsed.data;
  }

  /** Posts one file_stream request; returns the parsed response (`{}` if not JSON). */
  async fileStream(
    path: { entity: string; project: string; runId: string },
    body: string,
  ): Promise<Record<string, unknown>> {
    const url = `${this.#o.baseUrl}/files/${encodeURIComponent(path.entity)}/${encodeURIComponent(path.project)}/${encodeURIComponent(path.runId)}/file_stream`;
    const res = await this.#withRetry('file_stream', 'other', this.#o.retry.maxAttempts, () =>
      this.#send(
        url,
        'POST',
        { 'content-type': 'application/json' },
        body,
        this.#o.requestTimeoutMs,
        true,
      ),
    );
    try {
      return JSON.parse(res.text) as Record<string, unknown>;
    } catch {
      return {};
    }
  }

  /**
   * Streams a file from disk to a presigned upload URL (each attempt reopens it), with the
   * server's upload headers, `Content-Length` and, when given, `Content-MD5`; never the key.
   */
  async uploadFile(
    url: string,
    uploadHeaders: readonly string[],
    file: { path: string; size: number; md5?: string },
    label: string,
  ): Promise<void> {
    const headers = parseUploadHeaders(uploadHeaders);
    headers['content-length'] = String(file.size);
    if (file.md5 !== undefined) headers['content-md5'] = file.md5;
    await this.#withRetry(`upload ${label}`, 'other', this.#o.retry.graphqlMaxAttempts, () =>
      this.#send(url, 'PUT', headers, createReadStream(file.path), this.#o.requestTimeoutMs, false),
    );
  }

  /** PUTs a file to a presigned upload URL with the server's upload headers (never the key). */
  async upload(
    url: string,
    uploadHeaders: readonly string[],
    body: Buffer,
    label: string,
  ): Promise<void> {
    const headers = parseUploadHeaders(uploadHeaders);
    await this.#withRetry(`upload ${label}`, 'other', this.#o.retry.graphqlMaxAttempts, () =>
      this.#send(url, 'PUT', headers, body, this.#o.requestTimeoutMs, false),
    );
  }
}

/** `"Key: Value"` upload headers as a header object, never with an `Authorization` header. */
function parseUploadHeaders(lines: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  delete headers['authorization'];
  return headers;
}
