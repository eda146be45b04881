import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeArtifactStore } from './fakeWandbArtifacts.js';

/** A request the fake server received. */
export interface RecordedRequest {
  server: 'api' | 'storage';
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** Fault applied to it, if any. */
  fault?: string;
}

/** A fault to inject into matching requests. */
export interface Fault {
  /** `graphql`, `file_stream`, `upload`, or a path regexp. */
  match: 'graphql' | 'file_stream' | 'upload' | RegExp;
  /** `status`: answer `status` unprocessed; `drop`: close the socket unprocessed; `dropAfter`: process, then close the socket; `slow`: process, then answer after `delayMs`; `rateLimit`: process, answering with `RateLimit-Remaining: 0` and `RateLimit-Reset: <retryAfter>`. */
  kind: 'status' | 'drop' | 'dropAfter' | 'slow' | 'rateLimit';
  status?: number;
  retryAfter?: string;
  delayMs?: number;
  /** Body of a `status` answer. */
  body?: string;
  /** How many matching requests it hits (default 1). */
  times?: number;
  /** Only GraphQL requests whose query contains this text (e.g. `commitArtifact(`). */
  operation?: string;
  /** Let this many matching requests through before the fault hits (fail the Nth: `after: N-1`). */
  after?: number;
}

/** A run as the fake server stores it. */
export interface FakeRun {
  name: string;
  entity: string;
  project: string;
  config: unknown;
  displayName?: string;
  tags?: string[];
  upserts: number;
  history: string[];
  output: string[];
  summary: Record<string, unknown> | undefined;
  uploaded: string[];
  complete: boolean;
  exitcode: number | undefined;
  preempting: number;
  heartbeats: number;
  /** Offsets that skipped ahead of the stored line count (must stay empty). */
  gaps: string[];
  /** Lines rewritten with different content at an existing offset (must stay empty). */
  conflicts: string[];
  /** File_stream requests that rewrote lines already stored (retransmissions). */
  rewrites: number;
  /** `wandb-events.jsonl` lines (system metrics). */
  events: string[];
}

/** The fake server's handle. */
export interface FakeWandb {
  url: string;
  storageUrl: string;
  apiKey: string;
  requests: RecordedRequest[];
  runs: Map<string, FakeRun>;
  uploads: Map<string, { body: Buffer; headers: IncomingMessage['headers'] }>;
  inject(fault: Fault): void;
  /** While down, every API request answers 503. */
  down: boolean;
  /** History rows of a run, parsed (NaN tokens kept as numbers). */
  rows(runId: string): Record<string, unknown>[];
  /** System-metrics rows (`wandb-events.jsonl`) of a run, parsed. */
  events(runId: string): Record<string, unknown>[];
  /** Artifacts (versions, aliases, stored files, PUTs). */
  artifacts: FakeArtifactStore;
  /** Creates a run as if an earlier process had logged `historyLines` rows to it. */
  seedRun(name: string, options?: { project?: string; historyLines?: number }): FakeRun;
  close(): Promise<void>;
}

function read(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    });
  });
}

function applyLines(
  run: FakeRun,
  file: string,
  store: string[],
  offset: number,
  content: string[],
): void {
  if (offset > store.length) run.gaps.push(`${file}: offset ${offset} > ${store.length} lines`);
  if (offset < store.length) run.rewrites++;
  content.forEach((line, i) => {
    const at = offset + i;
    if (at < store.length && store[at] !== line && file !== 'output.log') {
      run.conflicts.push(`${file}:${at}`);
    }
    store[at] = line;
  });
}

/**
 * A W&B-compatible server on 127.0.0.1 for tests: GraphQL `upsertBucket` and `createRunFiles`,
 * `file_stream` with offset semantics (a line at an existing offset replaces it; gaps are
 * recorded), a separate storage origin for presigned uploads, basic auth, and injectable faults.
 */
export async function startFakeWandb(options: {
  apiKey: string;
  entity?: string;
}): Promise<FakeWandb> {
  const runs = new Map<string, FakeRun>();
  const requests: RecordedRequest[] = [];
  const uploads = new Map<string, { body: Buffer; headers: IncomingMessage['headers'] }>();
  const faults: (Fault & { left: number; skip: number })[] = [];
  const artifacts = new FakeArtifactStore();
  const expectedAuth = `Basic ${Buffer.from(`api:${options.apiKey}`).toString('base64')}`;
  const entity = options.entity ?? 'test-entity';
  let storageUrl = '';

  const takeFault = (
    kind: string,
    path: string,
    body = '',
  ): (Fault & { left: number }) | undefined => {
    const f = faults.find(
      (x) =>
        x.left > 0 &&
        (typeof x.match === 'string' ? x.match === kind : x.match.test(path)) &&
        (x.operation === undefined || body.includes(x.operation)),
    );
    if (f === undefined) return undefined;
    if (f.skip > 0) {
      f.skip--;
      return undefined;
    }
    f.left--;
    return f;
  };

  const newRun = (name: string, runEntity: string, project: string): FakeRun => ({
    name,
    entity: runEntity,
    project,
    config: undefined,
    upserts: 0,
    history: [],
    output: [],
    summary: undefined,
    uploaded: [],
    complete: false,
    exitcode: undefined,
    preempting: 0,
    heartbeats: 0,
    gaps: [],
    conflicts: [],
    rewrites: 0,
    events: [],
  });

  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const graphql = (body: string): { status: number; body: unknown } => {
    const { query, variables: v } = JSON.parse(body) as {
      query: string;
      variables: Record<string, unknown>;
    };
    if (query.includes('upsertBucket')) {
      const name = v['name'] as string;
      let run = runs.get(name);
      const inserted = run === undefined;
      run ??= newRun(
        name,
        (v['entity'] as string | null) ?? entity,
        (v['project'] as string | undefined) ?? 'uncategorized',
      );
      run.upserts++;
      if (typeof v['config'] === 'string') run.config = JSON.parse(v['config']);
      if (typeof v['displayName'] === 'string') run.displayName = v['displayName'];
      if (Array.isArray(v['tags'])) run.tags = v['tags'] as string[];
      runs.set(name, run);
      return {
        status: 200,
        body: {
          data: {
            upsertBucket: {
              bucket: {
                id: `storage-${name}`,
                name,
                displayName: run.displayName ?? name,
                project: { id: 'p', name: run.project, entity: { id: 'e', name: run.entity } },
                historyLineCount: run.history.length,
              },
              inserted,
            },
          },
        },
      };
    }
    if (query.includes('createRunFiles')) {
      const files = (v['files'] as string[]).map((name) => ({
        name,
        uploadUrl: `${storageUrl}/upload/${v['run'] as string}/${encodeURIComponent(name)}?sig=abc`,
      }));
      return {
        status: 200,
        body: {
          data: {
            createRunFiles: {
              runID: `storage-${v['run'] as string}`,
              uploadHeaders: ['X-Upload-Token: t1'],
              files,
            },
          },
        },
      };
    }
    if (/\bbucket\s*\(\s*name:/.test(query)) {
      // RunResumeStatus: does the run exist, and how far did it get?
      const run = runs.get(v['name'] as string);
      const bucket =
        run === undefined
          ? null
          : {
              id: `storage-${run.name}`,
              name: run.name,
              displayName: run.displayName ?? run.name,
              historyLineCount: run.history.length,
              eventsLineCount: run.events.length,
              logLineCount: run.output.length,
              historyTail: JSON.stringify(run.history.slice(-1)),
              summaryMetrics: JSON.stringify(run.summary ?? {}),
              config: JSON.stringify(run.config ?? {}),
            };
      return {
        status: 200,
        body: {
          data: {
            model: {
              id: 'p',
              name: v['project'] ?? 'uncategorized',
              entity: { name: entity },
              bucket,
            },
          },
        },
      };
    }
    if (artifacts.handles(query)) return { status: 200, body: artifacts.graphql(query, v) };
    return { status: 200, body: { errors: [{ message: 'unknown operation' }] } };
  };

  const fileStream = (runId: string, body: string): { status: number; body: unknown } => {
    const run = runs.get(runId);
    if (run === undefined) return { status: 404, body: { error: `run ${runId} not found` } };
    const req = JSON.parse(body) as {
      files?: Record<string, { offset: number; content: string[] }>;
      uploaded?: string[];
      complete?: boolean;
      exitcode?: number;
      preempting?: boolean;
    };
    if (Object.keys(req).length === 0) run.heartbeats++;
    for (const [file, { offset, content }] of Object.entries(req.files ?? {})) {
      if (file === 'wandb-history.jsonl') applyLines(run, file, run.history, offset, content);
      else if (file === 'wandb-events.jsonl') applyLines(run, file, run.events, offset, content);
      else if (file === 'output.log') applyLines(run, file, run.output, offset, content);
      else if (file === 'wandb-summary.json') {
        run.summary = parseExtendedJson(content[content.length - 1] as string) as Record<
          string,
          unknown
        >;
      }
    }
    for (const u of req.uploaded ?? []) if (!run.uploaded.includes(u)) run.uploaded.push(u);
    if (req.preempting === true) run.preempting++;
    if (req.complete === true) {
      run.complete = true;
      run.exitcode = req.exitcode;
    }
    return { status: 200, body: {} };
  };

  const api = createServer((req, res) => {
    void (async () => {
      const body = await read(req);
      const path = req.url ?? '/';
      const rec: RecordedRequest = {
        server: 'api',
        method: req.method ?? '',
        path,
        headers: req.headers,
        body,
      };
      requests.push(rec);
      const kind =
        path === '/graphql' ? 'graphql' : path.endsWith('/file_stream') ? 'file_stream' : 'other';
      if (handle.down) {
        rec.fault = 'down';
        json(res, 503, { error: 'down' });
        return;
      }
      const fault = takeFault(kind, path, body);
      if (fault !== undefined) rec.fault = fault.kind;
      if (fault?.kind === 'drop') {
        req.socket.destroy();
        return;
      }
      if (fault?.kind === 'status') {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter;
        res.writeHead(fault.status ?? 500, headers);
        res.end(fault.body ?? JSON.stringify({ error: 'injected' }));
        return;
      }
      if (req.headers.authorization !== expectedAuth) {
        json(res, 401, { error: 'unauthorized' });
        return;
      }
      let out: { status: number; body: unknown };
      if (kind === 'graphql') out = graphql(body);
      else if (kind === 'file_stream') {
        const parts = path.split('/');
        out = fileStream(decodeURIComponent(parts[4] ?? ''), body);
      } else out = { status: 404, body: { error: 'not found' } };
      if (fault?.kind === 'dropAfter') {
        req.socket.destroy();
        return;
      }
      if (fault?.kind === 'slow') await new Promise((r) => setTimeout(r, fault.delayMs ?? 1000));
      if (fault?.kind === 'rateLimit') {
        res.setHeader('ratelimit-remaining', '0');
        res.setHeader('ratelimit-reset', fault.retryAfter ?? '1');
      }
      json(res, out.status, out.body);
    })();
  });

  const storage = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks);
      const path = req.url ?? '/';
      const rec: RecordedRequest = {
        server: 'storage',
        method: req.method ?? '',
        path,
        headers: req.headers,
        body: body.length > 65_536 ? '' : body.toString('utf8'),
      };
      requests.push(rec);
      const fault = takeFault('upload', path);
      if (fault !== undefined) rec.fault = fault.kind;
      if (fault?.kind === 'drop') {
        req.socket.destroy();
        return;
      }
      if (fault?.kind === 'status') {
        res.writeHead(fault.status ?? 500);
        res.end();
        return;
      }
      if (fault?.kind === 'slow') await new Promise((r) => setTimeout(r, fault.delayMs ?? 1000));
      if (path.startsWith('/artifact-files/') || path.startsWith('/manifests/')) {
        const out = artifacts.storage(req.method ?? '', path, req.headers, body);
        if (fault?.kind === 'dropAfter') {
          req.socket.destroy();
          return;
        }
        res.writeHead(out.status);
        res.end(out.body);
        return;
      }
      if (req.method !== 'PUT' || req.headers['x-upload-token'] !== 't1') {
        res.writeHead(403);
        res.end();
        return;
      }
      const name = decodeURIComponent(path.split('?')[0]?.split('/').slice(3).join('/') ?? '');
      uploads.set(name, { body, headers: req.headers });
      res.writeHead(200);
      res.end();
    })();
  });

  const url = await listen(api);
  storageUrl = await listen(storage);
  artifacts.storageUrl = storageUrl;
  const handle: FakeWandb = {
    url,
    storageUrl,
    apiKey: options.apiKey,
    requests,
    runs,
    uploads,
    down: false,
    artifacts,
    inject(fault) {
      faults.push({ ...fault, left: fault.times ?? 1, skip: fault.after ?? 0 });
    },
    seedRun(name, o = {}) {
      const run = newRun(name, entity, o.project ?? 'uncategorized');
      for (let i = 0; i < (o.historyLines ?? 0); i++) {
        run.history.push(JSON.stringify({ _step: i, seeded: i }));
      }
      runs.set(name, run);
      return run;
    },
    events(runId) {
      return (runs.get(runId)?.events ?? []).map(
        (l) => parseExtendedJson(l) as Record<string, unknown>,
      );
    },
    rows(runId) {
      return (runs.get(runId)?.history ?? []).map(
        (l) => parseExtendedJson(l) as Record<string, unknown>,
      );
    },
    async close() {
      api.closeAllConnections();
      storage.closeAllConnections();
      await Promise.all([new Promise((r) => api.close(r)), new Promise((r) => storage.close(r))]);
    },
  };
  return handle;
}

/** W&B's JSON may hold bare `NaN`, `Infinity`, `-Infinity` (Python's json); parse it as W&B does. */
function parseExtendedJson(text: string): unknown {
  const marked = text.replace(
    /("(?:[^"\\]|\\.)*")|(-?Infinity|NaN)/g,
    (_m, str: string | undefined, token: string | undefined) => str ?? `"\\u0000${token}"`,
  );
  return JSON.parse(marked, (_k, v: unknown) =>
    typeof v === 'string' && v.startsWith('\u0000') ? Number(v.slice(1)) : v,
  );
}
