import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { Rng, isXError } from '@x/core';
import { describe, expect, it } from 'vitest';
import { parseExtendedJson, toExtendedJson } from './extJson.js';
import { LineStore } from './lineStore.js';
import { netrcPassword, parseNetrc } from './netrc.js';
import { redact } from './redact.js';
import { backoffDelay, isRetryableStatus, parseRetryAfter } from './retry.js';
import { ApiKey, resolveWandbSettings } from './settings.js';
import { WandbSink } from './wandbSink.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'wandb-unit-'));

describe('extended JSON', () => {
  it('writes bare NaN/Infinity tokens and reads them back', () => {
    const v = {
      a: NaN,
      b: Infinity,
      c: -Infinity,
      d: 1.5,
      s: 'NaN "Infinity"',
      n: [NaN, 2],
      u: undefined,
    };
    const text = toExtendedJson(v);
    expect(text).toBe(
      '{"a":NaN,"b":Infinity,"c":-Infinity,"d":1.5,"s":"NaN \\"Infinity\\"","n":[NaN,2]}',
    );
    const back = parseExtendedJson(text) as Record<string, unknown>;
    expect(back['a']).toBeNaN();
    expect(back['b']).toBe(Infinity);
    expect(back['c']).toBe(-Infinity);
    expect(back['s']).toBe('NaN "Infinity"');
  });
});

describe('netrc', () => {
  const text = `# comment
machine api.wandb.ai
  login user
  password key-default-host
machine localhost:8080 login user password key-with-port
macdef init
  cd /tmp
  ls

machine "quoted.host" login u password "p w"
default login anon password fallback
`;
  it('parses machines, quoted tokens, macdef and default', () => {
    const entries = parseNetrc(text);
    expect(entries.map((e) => e.machine)).toEqual([
      'api.wandb.ai',
      'localhost:8080',
      'quoted.host',
      null,
    ]);
    expect(entries[2]?.password).toBe('p w');
  });
  it('looks up host:port, then the bare host, then default', () => {
    expect(netrcPassword(text, 'localhost:8080')).toBe('key-with-port');
    expect(netrcPassword(text, 'api.wandb.ai')).toBe('key-default-host');
    expect(netrcPassword(text, 'api.wandb.ai:443')).toBe('key-default-host');
    expect(netrcPassword(text, 'elsewhere')).toBe('fallback');
  });
});

describe('settings', () => {
  it('reads the standard variables over the config', () => {
    const s = resolveWandbSettings({
      config: { enabled: true, project: 'cfg', tags: ['a'] },
      env: {
        WANDB_PROJECT: 'env',
        WANDB_TAGS: 'x, y,',
        WANDB_API_KEY: 'k1',
        WANDB_RUN_GROUP: 'g',
        WANDB_JOB_TYPE: 'train',
      },
    });
    expect(s).toMatchObject({
      mode: 'online',
      project: 'env',
      tags: ['x', 'y'],
      group: 'g',
      jobType: 'train',
    });
    expect(s.apiKeySource).toBe('WANDB_API_KEY');
  });
  it('maps WANDB_MODE (dryrun = offline) and is disabled by default', () => {
    expect(resolveWandbSettings({ env: {} }).mode).toBe('disabled');
    expect(resolveWandbSettings({ env: { WANDB_MODE: 'dryrun' } }).mode).toBe('offline');
    expect(
      resolveWandbSettings({ config: { enabled: true }, env: { WANDB_MODE: 'disabled' } }).mode,
    ).toBe('disabled');
    expect(() => resolveWandbSettings({ env: { WANDB_MODE: 'sometimes' } })).toThrow(/WANDB_MODE/);
  });
  it('takes the key from ~/.netrc for the WANDB_BASE_URL host', () => {
    const home = tmp();
    writeFileSync(join(home, '.netrc'), 'machine 127.0.0.1:9999 login user password from-netrc\n');
    const s = resolveWandbSettings({
      env: { WANDB_MODE: 'online', WANDB_BASE_URL: 'http://127.0.0.1:9999/' },
      home,
    });
    expect(s.apiKey?.reveal()).toBe('from-netrc');
    expect(s.baseUrl).toBe('http://127.0.0.1:9999');
  });
  it('strips credentials from WANDB_BASE_URL before anything is written or printed', async () => {
    const secret = 's3cret-pass-0123456789';
    const s = resolveWandbSettings({
      env: { WANDB_MODE: 'offline', WANDB_BASE_URL: `https://api:${secret}@wandb.example.org/` },
      home: tmp(),
    });
    expect(s.baseUrl).toBe('https://wandb.example.org');
    expect(s.apiKey?.reveal()).toBe(secret);
    const dir = tmp();
    const sink = new WandbSink({
      env: { WANDB_MODE: 'offline', WANDB_BASE_URL: `https://api:${secret}@wandb.example.org/` },
    });
    sink.start({
      runDir: dir,
      pipeline: 't',
      config: { url: `redis://u:${secret}@h:6379` },
      startStep: 0,
      resumed: false,
    });
    const runJson = readFileSync(join(dir, 'wandb', 'run.json'), 'utf8');
    expect(runJson).not.toContain(secret);
    expect(runJson).toContain('https://wandb.example.org');
    expect(redact(`see https://a:${secret}@x.org/p`, undefined)).toBe('see https://x.org/p');
    expect(() =>
      resolveWandbSettings({ env: { WANDB_BASE_URL: `not a url ${secret}://u:${secret}@` } }),
    ).toThrow(/WANDB_BASE_URL/);
    try {
      resolveWandbSettings({ env: { WANDB_BASE_URL: `ht tp://u:${secret}@x` } });
    } catch (err) {
      expect((err as Error).message).not.toContain(secret);
    }
    await sink.close({ exitCode: 0, preempting: false });
  });
  it('validates WANDB_RUN_ID like logging.wandb.runId', () => {
    expect(resolveWandbSettings({ env: { WANDB_RUN_ID: 'abc_1-2' } }).runId).toBe('abc_1-2');
    for (const bad of ['../../etc', 'a b', 'x'.repeat(65)]) {
      expect(() => resolveWandbSettings({ env: { WANDB_RUN_ID: bad } })).toThrow(
        /WANDB_RUN_ID: expected/,
      );
      expect(() => resolveWandbSettings({ config: { runId: bad } })).toThrow(/runId/);
    }
  });
  it('rejects unknown config keys', () => {
    expect(() => resolveWandbSettings({ config: { projcet: 'x' } })).toThrow(/projcet/);
    try {
      resolveWandbSettings({ config: { projcet: 'x' } });
    } catch (err) {
      expect(isXError(err, 'INVALID_CONFIG')).toBe(true);
    }
  });
  it('keeps the key out of every string form', () => {
    const k = new ApiKey('secret-key-123');
    expect(String(k)).not.toContain('secret');
    expect(JSON.stringify({ k })).not.toContain('secret');
    expect(inspect({ k })).not.toContain('secret');
    expect(
      redact(`x secret-key-123 ${Buffer.from('api:secret-key-123').toString('base64')}`, k),
    ).toBe('x *** ***');
  });
});

describe('retry policy', () => {
  it('follows the SDK: never 400/401/403/404/409/410/413/422/501; upsert retries 409', () => {
    for (const s of [400, 401, 403, 404, 409, 410, 413, 422, 501])
      expect(isRetryableStatus(s, 'other')).toBe(false);
    for (const s of [408, 429, 500, 502, 503, 504])
      expect(isRetryableStatus(s, 'other')).toBe(true);
    expect(isRetryableStatus(409, 'upsert')).toBe(true);
    expect(isRetryableStatus(422, 'upsert')).toBe(false);
  });
  it('backs off exponentially with seeded jitter up to the cap', () => {
    const opts = { minMs: 100, maxMs: 1000, maxAttempts: 10 };
    const a = [0, 1, 2, 3, 4].map((i) => backoffDelay(i, opts, Rng.fromSeed(1).stream('b', i)));
    const b = [0, 1, 2, 3, 4].map((i) => backoffDelay(i, opts, Rng.fromSeed(1).stream('b', i)));
    expect(a).toEqual(b);
    expect(a[0]).toBeGreaterThanOrEqual(100);
    expect(a[0]).toBeLessThanOrEqual(125);
    expect(a[2]).toBeGreaterThanOrEqual(400);
    expect(a[4]).toBe(1000);
  });
  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3', 0)).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    expect(parseRetryAfter(undefined, 0)).toBeUndefined();
  });
});

describe('LineStore', () => {
  it('serves lines in order from memory and, past the bound, from the file', async () => {
    const file = join(tmp(), 'h.jsonl');
    const spills: boolean[] = [];
    const s = new LineStore(file, { maxMemoryBytes: 200, onSpill: (on) => spills.push(on) });
    for (let i = 0; i < 100; i++) s.push(`{"i":${i}}`);
    expect(s.memoryBytes).toBeLessThanOrEqual(400);
    expect(spills).toEqual([true]);
    const got: string[] = [];
    let next = 100;
    while (s.unsent > 0) {
      const lines = await s.peek(64);
      expect(lines.length).toBeGreaterThan(0);
      got.push(...lines);
      s.ack(lines.length);
      if (next < 150) s.push(`{"i":${next++}}`);
    }
    expect(got).toEqual(Array.from({ length: 150 }, (_, i) => `{"i":${i}}`));
    expect(spills[0]).toBe(true);
    expect(spills.at(-1)).toBe(false);
    s.writeOutSync();
    expect(readFileSync(file, 'utf8').split('\n').length - 1).toBe(s.total);
  });
  it('reopens, truncates to kept lines and skips pushes below the acknowledged index', async () => {
    const file = join(tmp(), 'h.jsonl');
    const a = new LineStore(file, { maxMemoryBytes: 1 << 20 });
    for (let i = 0; i < 10; i++) a.push(`l${i}`);
    a.writeOutSync();
    const b = new LineStore(file, { maxMemoryBytes: 1 << 20, keepLines: 6, acked: 8 });
    expect(b.total).toBe(6);
    b.push('n6');
    b.push('n7');
    b.push('n8');
    expect(await b.peek(1 << 20)).toEqual(['n8']);
    b.writeOutSync();
    expect(readFileSync(file, 'utf8')).toBe('l0\nl1\nl2\nl3\nl4\nl5\nn6\nn7\nn8\n');
  });
});
