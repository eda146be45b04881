import { XError } from '@x/core';
import type { CommandContext } from '../command.js';

/** What a queue command needs to reach its BullMQ queue. */
export interface QueueTarget {
  /** The Redis URL as given (named in messages). */
  url: string;
  /** BullMQ queue name. */
  name: string;
  /** BullMQ connection options (BullMQ opens its own ioredis connections from them). */
  connection: { url: string; maxRetriesPerRequest: null; connectTimeout: number };
}

/** Flags shared by every command that talks to Redis. */
export const redisFlags = {
  redis: { type: 'string' },
  queue: { type: 'string' },
  'connect-timeout': { type: 'string' },
} as const;

export const redisFlagsHelp = `  --redis <url>            Redis URL, e.g. redis://host:6379/0 (default: env REDIS_URL)
  --queue <name>           BullMQ queue name (default runner)
  --connect-timeout <ms>   give up reaching Redis after this long: exit 2 naming the URL (default 5000)`;

/**
 * Reads `--redis`/`--queue` and checks, within a bounded time, that Redis answers PING. An
 * unreachable or malformed URL is `INVALID_INPUT` naming it.
 */
export async function queueTarget(ctx: CommandContext): Promise<QueueTarget> {
  const url = (ctx.values['redis'] as string | undefined) ?? process.env['REDIS_URL'];
  if (url === undefined || url === '')
    throw new XError('INVALID_INPUT', '--redis <url> is required (or set REDIS_URL)');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new XError('INVALID_INPUT', `--redis ${url}: not a URL (expected redis://host:port)`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')
    throw new XError(
      'INVALID_INPUT',
      `--redis ${url}: expected a redis:// or rediss:// URL, got ${parsed.protocol}`,
    );
  const rawTimeout = (ctx.values['connect-timeout'] as string | undefined) ?? '5000';
  const timeout = Number(rawTimeout);
  if (!Number.isSafeInteger(timeout) || timeout < 1)
    throw new XError(
      'INVALID_INPUT',
      `--connect-timeout: expected milliseconds >= 1, got '${rawTimeout}'`,
    );
  const name = (ctx.values['queue'] as string | undefined) ?? 'runner';
  if (!/^[A-Za-z0-9_.-]+$/.test(name))
    throw new XError('INVALID_INPUT', `--queue '${name}': use letters, digits, '_', '.', '-'`);
  await ping(url, timeout);
  return { url, name, connection: { url, maxRetriesPerRequest: null, connectTimeout: timeout } };
}

async function ping(url: string, timeoutMs: number): Promise<void> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect().then(() => client.ping()),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    throw new XError(
      'INVALID_INPUT',
      `cannot reach Redis at ${url}: ${(err as Error).message} (the queue commands need a running Redis; check --redis)`,
      { cause: err },
    );
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}
