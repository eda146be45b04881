import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { XError, parseConfig } from '@x/core';
import { z } from 'zod';
import { netrcPassword } from './netrc.js';
import { stripUrlCredentials } from './redact.js';

/** The default W&B API host. */
export const DEFAULT_BASE_URL = 'https://api.wandb.ai';

/**
 * The `logging.wandb` config section (strict). Every field is optional; the standard `WANDB_*`
 * environment variables override it.
 */
/** A W&B run id, from `logging.wandb.runId` or `WANDB_RUN_ID`. */
const RUN_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** W&B's `resume` modes (`WANDB_RESUME`). */
export const RESUME_MODES = ['allow', 'must', 'never', 'auto'] as const;

/** A W&B `resume` mode. */
export type ResumeMode = (typeof RESUME_MODES)[number];

export const wandbConfigSchema = z.strictObject({
  enabled: z.boolean().default(false),
  mode: z.enum(['online', 'offline', 'disabled']).optional(),
  project: z.string().min(1).optional(),
  entity: z.string().min(1).optional(),
  name: z.string().min(1).optional(),
  runId: z.string().regex(RUN_ID).optional(),
  group: z.string().min(1).optional(),
  jobType: z.string().min(1).optional(),
  notes: z.string().optional(),
  tags: z.array(z.string().min(1)).optional(),
  baseUrl: z.url().optional(),
  /** How often the background flusher sends queued data (ms). */
  flushIntervalMs: z.number().int().positive().default(5000),
  /** An empty file_stream request is sent after this long without one (ms). */
  heartbeatMs: z.number().int().positive().default(30_000),
  /** Bytes of queued lines kept in memory; past it lines are read back from the disk spool. */
  maxMemoryBytes: z
    .number()
    .int()
    .min(1024)
    .default(8 * 1024 * 1024),
  /** How long `close()` waits for the server before leaving the rest to `runner wandb sync`. */
  closeTimeoutMs: z.number().int().nonnegative().default(8000),
  requestTimeoutMs: z.number().int().positive().default(180_000),
  graphqlTimeoutMs: z.number().int().positive().default(30_000),
  retry: z
    .strictObject({
      minMs: z.number().nonnegative().default(2000),
      maxMs: z.number().nonnegative().default(60_000),
      maxAttempts: z.number().int().positive().default(10_085),
      graphqlMaxAttempts: z.number().int().positive().default(20),
    })
    .prefault({}),
  /** Upper bound of one file_stream request's content (W&B accepts ~10 MiB). */
  maxRequestBytes: z
    .number()
    .int()
    .min(1024)
    .default(8 * 1024 * 1024),
  /** Upload pictures (SVG wrapped in HTML) as run media. */
  pictures: z.boolean().default(true),
  /**
   * Checkpoints as versions of the run's `model-<runId>` artifact (Lightning's `log_model`):
   * `all` every checkpoint, `best` each new best by the checkpoint policy's metric, `last` the
   * newest (and the best) at the end of the run, `none` (default) none.
   */
  logCheckpoints: z.enum(['none', 'last', 'best', 'all']).default('none'),
  /**
   * System metrics (`system.cpu`, `system.proc.memory.rssMB`, …) sampled every `everySeconds`
   * (15 s, as the SDK) into `wandb-events.jsonl`; `false` turns them off.
   */
  systemMetrics: z
    .union([
      z.literal(false),
      z.strictObject({
        everySeconds: z.number().positive().default(15),
        /** Paths whose disk usage is reported (`system.disk.<path>.usagePercent`). */
        diskPaths: z.array(z.string().min(1)).default(['/']),
      }),
    ])
    .default({ everySeconds: 15, diskPaths: ['/'] }),
  /** What to do when the run id exists on the server (W&B's `resume`; env `WANDB_RESUME`). */
  resume: z.enum(RESUME_MODES).optional(),
});

/** The validated `logging.wandb` config. */
export type WandbConfig = z.output<typeof wandbConfigSchema>;

/** The API key, kept out of every string form (`String`, JSON, `util.inspect`). */
export class ApiKey {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  /** The key itself; only the transport calls this. */
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '[wandb api key]';
  }
  toJSON(): string {
    return '[wandb api key]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '[wandb api key]';
  }
}

/** Everything the sink needs, resolved from config, environment and `~/.netrc`. */
export interface WandbSettings extends Omit<WandbConfig, 'mode' | 'baseUrl' | 'enabled'> {
  mode: 'online' | 'offline' | 'disabled';
  baseUrl: string;
  apiKey: ApiKey | undefined;
  /** Where the key came from (`WANDB_API_KEY`, `netrc`), for messages. */
  apiKeySource: string | undefined;
  /** `WANDB_DIR`: W&B files go to `$WANDB_DIR/wandb/<run-dir name>` instead of `<run-dir>/wandb`. */
  dir: string | undefined;
}

/** Inputs of {@link resolveWandbSettings}. */
export interface ResolveWandbOptions {
  config?: unknown;
  env?: Record<string, string | undefined>;
  /** Home directory for `~/.netrc` (default `os.homedir()`; `NETRC` env names the file). */
  home?: string;
}

function modeFrom(raw: string, where: string): WandbSettings['mode'] {
  switch (raw.trim().toLowerCase()) {
    case 'online':
    case 'run':
    case 'shared':
      return 'online';
    case 'offline':
    case 'dryrun':
      return 'offline';
    case 'disabled':
      return 'disabled';
    default:
      throw new XError(
        'INVALID_CONFIG',
        `${where}: expected online, offline or disabled, got '${raw}'`,
      );
  }
}

function readNetrcKey(env: Record<string, string | undefined>, home: string, host: string) {
  const file = env['NETRC'] ?? join(home, '.netrc');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  return netrcPassword(text, host);
}

/**
 * Resolves the W&B settings. Precedence: environment (`WANDB_MODE`, `WANDB_PROJECT`, …) over
 * the `logging.wandb` config over defaults. The key comes from `WANDB_API_KEY`, else from the
 * `~/.netrc` entry of the `WANDB_BASE_URL` host.
 */
export function resolveWandbSettings(opts: ResolveWandbOptions = {}): WandbSettings {
  const env = opts.env ?? process.env;
  const cfg = parseConfig(wandbConfigSchema, opts.config ?? {}, 'logging.wandb');
  const e = (k: string): string | undefined => {
    const v = env[k];
    return v === undefined || v === '' ? undefined : v;
  };
  let mode: WandbSettings['mode'] = cfg.enabled ? 'online' : 'disabled';
  if (cfg.mode !== undefined) mode = cfg.mode;
  if (e('WANDB_DISABLED') === 'true') mode = 'disabled';
  const envMode = e('WANDB_MODE');
  if (envMode !== undefined) mode = modeFrom(envMode, 'WANDB_MODE');
  const rawUrl = (e('WANDB_BASE_URL') ?? cfg.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
  let host: string;
  let baseUrl: string;
  let urlPassword: string | undefined;
  try {
    const u = new URL(rawUrl);
    host = u.host;
    // Credentials in the URL never reach a file, a message or a request line: the password
    // (W&B's `api:<key>` form) is used as the key when no other key is set.
    if (u.password !== '') urlPassword = decodeURIComponent(u.password);
    u.username = '';
    u.password = '';
    baseUrl = u.toString().replace(/\/+$/, '');
  } catch {
    throw new XError(
      'INVALID_CONFIG',
      `WANDB_BASE_URL: not a URL: '${stripUrlCredentials(rawUrl)}'`,
    );
  }
  const envRunId = e('WANDB_RUN_ID');
  if (envRunId !== undefined && !RUN_ID.test(envRunId)) {
    throw new XError(
      'INVALID_CONFIG',
      `WANDB_RUN_ID: expected 1 to 64 letters, digits, '_' or '-' (as logging.wandb.runId), got ${JSON.stringify(envRunId.slice(0, 80))}`,
    );
  }
  let apiKey: ApiKey | undefined;
  let apiKeySource: string | undefined;
  const envKey = e('WANDB_API_KEY');
  if (envKey !== undefined) {
    apiKey = new ApiKey(envKey.trim());
    apiKeySource = 'WANDB_API_KEY';
  } else if (urlPassword !== undefined) {
    apiKey = new ApiKey(urlPassword);
    apiKeySource = 'the credentials of WANDB_BASE_URL';
  } else if (mode !== 'disabled') {
    const k = readNetrcKey(env, opts.home ?? homedir(), host);
    if (k !== undefined) {
      apiKey = new ApiKey(k);
      apiKeySource = `~/.netrc (machine ${host})`;
    }
  }
  const envResume = e('WANDB_RESUME')?.trim().toLowerCase();
  if (envResume !== undefined && !(RESUME_MODES as readonly string[]).includes(envResume)) {
    throw new XError(
      'INVALID_CONFIG',
      `WANDB_RESUME: expected allow, must, never or auto, got ${JSON.stringify(envResume.slice(0, 40))}`,
    );
  }
  const tags = e('WANDB_TAGS')
    ?.split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  const { enabled: _enabled, mode: _mode, baseUrl: _baseUrl, ...rest } = cfg;
  return {
    ...rest,
    mode,
    baseUrl,
    apiKey,
    apiKeySource,
    dir: e('WANDB_DIR'),
    project: e('WANDB_PROJECT') ?? cfg.project,
    entity: e('WANDB_ENTITY') ?? cfg.entity,
    runId: envRunId ?? cfg.runId,
    name: e('WANDB_NAME') ?? cfg.name,
    group: e('WANDB_RUN_GROUP') ?? cfg.group,
    jobType: e('WANDB_JOB_TYPE') ?? cfg.jobType,
    notes: e('WANDB_NOTES') ?? cfg.notes,
    tags: tags ?? cfg.tags,
    resume: (envResume as ResumeMode | undefined) ?? cfg.resume,
  };
}
