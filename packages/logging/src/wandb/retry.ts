import type { Rng } from '@x/core';

/** Backoff settings: delays grow as `min·2^attempt·(1 + 0.25·u)`, capped at `maxMs`. */
export interface RetryOptions {
  /** First delay (default 2000 ms, as the SDK). */
  minMs: number;
  /** Largest delay (default 60000 ms). */
  maxMs: number;
  /** Attempts before giving up (default: file_stream ~7 days worth, GraphQL 20). */
  maxAttempts: number;
}

/** HTTP statuses the SDK never retries (`RetryMostFailures`); every other 4xx/5xx is retried. */
export const NON_RETRYABLE = new Set([400, 401, 403, 404, 409, 410, 413, 422, 501]);

/** `upsertBucket` retries 409 (conflict while the run is being created) but not 400/410/422. */
export function isRetryableStatus(status: number, kind: 'upsert' | 'other'): boolean {
  if (status < 400) return false;
  if (kind === 'upsert' && status === 409) return true;
  return !NON_RETRYABLE.has(status);
}

/** The delay before retry number `attempt` (0-based), with seeded jitter. */
export function backoffDelay(attempt: number, opts: RetryOptions, rng: Rng): number {
  const base = opts.minMs * 2 ** Math.min(attempt, 30);
  return Math.min(opts.maxMs, base * (1 + 0.25 * rng.uniform()));
}

/** Milliseconds a `Retry-After` header asks to wait (seconds or an HTTP date), if valid. */
export function parseRetryAfter(header: string | undefined, nowMs: number): number | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const s = Number(header.trim());
  if (Number.isFinite(s)) return s >= 0 ? s * 1000 : undefined;
  const t = Date.parse(header);
  return Number.isNaN(t) ? undefined : Math.max(0, t - nowMs);
}
