import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { XError, toXError } from '@x/core';
import type { NoticeRecord } from '../types.js';
import { parseExtendedJson } from './extJson.js';
import { redact } from './redact.js';
import {
  EMPTY_PROGRESS,
  type ExitRecord,
  FILES,
  type Progress,
  type RunRecord,
  readJson,
  resolveWandbDir,
} from './runFiles.js';
import { Session } from './session.js';
import { type ResolveWandbOptions, resolveWandbSettings } from './settings.js';
import type { TransportOptions } from './transport.js';
import type { FinalFlags } from './uploader.js';

/** Options of {@link syncOfflineRun}. */
export interface SyncOptions extends ResolveWandbOptions {
  onNotice?: (notice: NoticeRecord) => void;
  sleep?: TransportOptions['sleep'];
  /**
   * Stops the sync within one request or retry wait (SIGTERM/SIGINT); progress so far is saved
   * and the result says `interrupted`.
   */
  signal?: AbortSignal;
}

/** What a sync did. */
export interface SyncResult {
  runId: string;
  entity: string | null;
  project: string;
  /** History lines on the server after the sync. */
  historyLines: number;
  historySent: number;
  outputSent: number;
  filesSent: number;
  /** `complete`, `preempting` or `running` (no exit record: the run may still be going). */
  state: 'complete' | 'preempting' | 'running';
  /** True when `signal` stopped the sync before everything was sent. */
  interrupted: boolean;
  /** History lines still not on the server (0 when everything was sent). */
  historyLeft: number;
  /** Checkpoint versions of the run's model artifact committed on the server, in all. */
  artifactsCommitted: number;
  /** Checkpoint versions still not uploaded. */
  artifactsLeft: number;
}

/**
 * Uploads a run logged to `<run-dir>/wandb/` (offline, or online runs whose upload did not
 * finish). Resumable and exactly-once: history continues at the server's `historyLineCount`,
 * console output and files at the offsets in `progress.json`, all written after each
 * acknowledged request; running it again sends nothing twice.
 */
export async function syncOfflineRun(
  runDir: string,
  options: SyncOptions = {},
): Promise<SyncResult> {
  const dir = resolveWandbDir(runDir);
  const record = readJson<RunRecord>(dir, FILES.run) as RunRecord;
  const env = options.env ?? process.env;
  const settings = resolveWandbSettings({
    ...options,
    env: { ...env, WANDB_MODE: 'online', WANDB_BASE_URL: env['WANDB_BASE_URL'] || record.baseUrl },
  });
  if (settings.apiKey === undefined) {
    throw new XError(
      'INVALID_INPUT',
      `no W&B API key: set WANDB_API_KEY or add ${new URL(settings.baseUrl).host} to ~/.netrc, then run the sync again`,
    );
  }
  settings.resume ??= record.resume;
  const notify = (level: NoticeRecord['level'], message: string): void => {
    options.onNotice?.({
      time: Date.now() / 1000,
      level,
      source: 'wandb',
      message: redact(message, settings.apiKey),
    });
  };
  const before: Progress = { ...EMPTY_PROGRESS, ...readJson<Progress>(dir, FILES.progress) };
  const exit = readJson<ExitRecord>(dir, FILES.exit);
  const session = new Session({
    dir,
    settings,
    record,
    online: true,
    serverResume: true,
    seed: `sync-${record.runId}`,
    notify,
    sleep: options.sleep,
    syncHint: `runner wandb sync ${runDir}`,
    runIdGiven: true,
  });
  const summaryFile = join(dir, FILES.summary);
  if (existsSync(summaryFile)) {
    session.summary.replace(
      parseExtendedJson(readFileSync(summaryFile, 'utf8')) as Record<string, unknown>,
    );
  }
  let final: FinalFlags | undefined;
  if (exit !== undefined && !(before.completeSent && !exit.preempting)) {
    final = exit.preempting ? { preempting: true } : { complete: true, exitcode: exit.exitCode };
  }
  const signal = options.signal;
  const onAbort = (): void => session.cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted === true) session.cancel();
  try {
    await session.uploadAll(final);
  } catch (err) {
    if (signal?.aborted === true) {
      return result(session, record, before, exit, true);
    }
    const x = toXError(err);
    throw new XError(
      x.code === 'INTERNAL' ? 'ENVIRONMENT' : x.code,
      `wandb sync of ${dir} stopped: ${redact(x.message, settings.apiKey)} (progress is saved; run the sync again to continue)`,
      { cause: err },
    );
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  const res = result(session, record, before, exit, signal?.aborted === true);
  const gap = session.missingLines;
  if (gap !== undefined) {
    const first = firstStep(join(dir, FILES.history));
    throw new XError(
      'INTEGRITY',
      `wandb sync of ${dir}: history lines ${gap.from}..${gap.to} (${gap.to - gap.from + 1} rows${first === undefined ? '' : `, the steps before step ${first}`}) are neither on the server nor in ${join(dir, FILES.history)}: the W&B run has a gap there. ${res.historySent} rows after the gap were sent; the server counts ${res.historyLines} history lines, ${gap.to - gap.from + 1} of them missing.`,
      { details: { missingLines: gap, firstLocalStep: first } },
    );
  }
  return res;
}

function result(
  session: Session,
  record: RunRecord,
  before: Progress,
  exit: ExitRecord | undefined,
  interrupted: boolean,
): SyncResult {
  return {
    runId: record.runId,
    entity: session.record.entity,
    project: session.record.project,
    historyLines: session.history.acked,
    historySent: Math.max(
      0,
      session.history.acked - Math.max(session.serverHistoryLines, session.history.base),
    ),
    outputSent: session.progress.outputAcked - before.outputAcked,
    filesSent: session.progress.filesAcked - before.filesAcked,
    state: exit === undefined ? 'running' : exit.preempting ? 'preempting' : 'complete',
    interrupted,
    historyLeft: session.history.unsent,
    artifactsCommitted: session.artifacts.committed,
    artifactsLeft: session.artifacts.pending,
  };
}

function firstStep(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 16);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const m = /"_step":(-?\d+)/.exec(buf.toString('utf8', 0, n));
    return m === null ? undefined : Number(m[1]);
  } finally {
    closeSync(fd);
  }
}
