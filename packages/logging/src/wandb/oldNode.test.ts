import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { systemNode, tsEvalArgs } from '@x/test-utils';
import { describe, expect, it } from 'vitest';

/** A Node.js older than undici 8 supports (Debian 12's 20, say), if this machine has one. */
const old = systemNode((v) => Number(v.split('.')[0]) < 22);
const transport = join(import.meta.dirname, 'transport.ts');
const index = join(import.meta.dirname, '..', 'index.ts');

describe.skipIf(old === undefined)(`@x/logging on an old Node (${old ?? 'none found'})`, () => {
  it('imports, and the W&B transport fails its first request with an error naming Node, not retried', () => {
    const script = `
      import * as logging from ${JSON.stringify(index)};
      import { Rng } from '@x/core';
      import { WandbTransport } from ${JSON.stringify(transport)};
      const notices = [];
      const t = new WandbTransport({
        baseUrl: 'http://127.0.0.1:9', apiKey: undefined, requestTimeoutMs: 1000, graphqlTimeoutMs: 1000,
        retry: { graphqlMaxAttempts: 5, maxAttempts: 5, minMs: 1, maxMs: 1 },
        rng: Rng.fromSeed(1).stream('t'), notify: (n) => notices.push(n.message),
      });
      try { await t.graphql('Viewer', 'query { viewer { id } }', {}); console.log('no error'); }
      catch (e) { console.log(JSON.stringify({ name: e.name, retryable: e.retryable, message: e.message, notices, sinks: typeof logging.ExperimentLogger })); }
      await t.close();
    `;
    const r = spawnSync(old as string, tsEvalArgs(script), {
      cwd: join(import.meta.dirname, '..', '..'),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout.trim()) as Record<string, unknown>;
    expect(out['retryable']).toBe(false);
    expect(out['notices']).toEqual([]);
    expect(out['message']).toMatch(
      /cannot load undici.*needs Node\.js 22\.19 or newer, this is 20\./,
    );
    expect(out['sinks']).toBe('function');
  });
});
