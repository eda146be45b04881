import { resolve } from 'node:path';
import { syncOfflineRun } from '@x/logging';
import type { Command } from '../command.js';

/** `runner wandb sync <run-dir>`: uploads a run logged offline (or whose upload did not finish). */
export const wandbSyncCommand: Command = {
  path: ['wandb', 'sync'],
  summary: 'upload a run logged offline (or whose upload did not finish) to Weights & Biases',
  usage: '<run-dir>',
  help: `Uploads <run-dir>/wandb/ (written with WANDB_MODE=offline, or left behind when an online
upload could not finish) to W&B. Exactly once and resumable: history continues at the server's
line count, console output and files at the offsets saved in progress.json; running it again
sends nothing twice. Reads WANDB_API_KEY (or ~/.netrc) and WANDB_BASE_URL (default: the URL the
run was logged for). SIGTERM/SIGINT stop it within one request or retry wait (exit 143/130;
progress is kept). History lines that neither the server nor the spool holds (a gap) are an
error naming them (exit 1), after the rows that exist were sent. Checkpoints logged as the run's
model artifact (logging.wandb.logCheckpoints) that were not uploaded yet are uploaded too, each
file once (artifacts.json records the progress). WANDB_RESUME as the run was logged with (or as
set now) is applied: 'must' for a run the server does not have is an error (exit 2).`,
  options: {},
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const runDir = resolve(ctx.cwd, ctx.positionals[0] as string);
    const t0 = performance.now();
    const res = await syncOfflineRun(runDir, {
      onNotice: (n) => (n.level === 'info' ? ctx.out.info(n.message) : ctx.out.warn(n.message)),
      signal: ctx.signal,
    });
    const secs = (performance.now() - t0) / 1000;
    const rate = res.historySent > 0 ? `, ${(res.historySent / secs).toFixed(0)} rows/s` : '';
    const artifacts =
      res.artifactsCommitted + res.artifactsLeft > 0
        ? `, ${res.artifactsCommitted} checkpoint version(s) on the server${res.artifactsLeft > 0 ? ` (${res.artifactsLeft} not uploaded)` : ''}`
        : '';
    ctx.out.info(
      `sent ${res.historySent} history rows, ${res.outputSent} console lines, ${res.filesSent} files in ${secs.toFixed(2)} s${rate}${artifacts}`,
    );
    if (res.interrupted) {
      // The runner exits 130/143 for the signal; progress is saved after each acknowledged request.
      ctx.out.warn(
        `sync interrupted: ${res.historyLines} history rows are on the server, ${res.historyLeft} not yet sent; run 'runner wandb sync ${runDir}' again to finish`,
      );
      return 0;
    }
    const state =
      res.state === 'running'
        ? 'no exit record: the run may still be going; sync again later to finish it'
        : res.state;
    ctx.out.line(
      `synced W&B run ${res.entity ?? '?'}/${res.project}/${res.runId}: ${res.historyLines} history rows on the server (${state})`,
    );
    return 0;
  },
};

/** The `runner wandb …` commands. */
export const wandbCommands: Command[] = [wandbSyncCommand];
