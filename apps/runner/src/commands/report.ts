import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { XError } from '@x/core';
import type { Command } from '../command.js';
import { str } from '../flags.js';
import { collectRun } from '../report/collect.js';
import { reportHtml } from '../report/html.js';

/** `runner report <run-dir>... --out <file.html>`: one self-contained page comparing runs. */
export const reportCommand: Command = {
  path: ['report'],
  summary:
    'one self-contained HTML page comparing runs: metrics overlaid, config diff, checkpoints, pictures, provenance',
  usage: '<run-dir>... --out <file.html> [--smoothing <w>] [--title <text>]',
  help: `The page needs no network (styles, script and pictures are inline) and opens in any browser.
Metrics are overlaid per name with one colour per run and a smoothing slider (debiased EMA, as in
TensorBoard); the hyperparameter table highlights keys whose values differ between runs.`,
  options: {
    out: { type: 'string', arg: 'file.html', description: 'where to write the page' },
    smoothing: {
      type: 'string',
      arg: 'w',
      description: 'initial EMA smoothing weight, 0 (none) to 0.99',
      default: '0.6',
    },
    title: { type: 'string', arg: 'text', description: 'page title', default: 'run report' },
  },
  positionals: { min: 1, max: 1000 },
  run(ctx) {
    const outFlag = str(ctx.values, 'out');
    if (outFlag === undefined) throw new XError('INVALID_INPUT', '--out <file.html> is required');
    const raw = str(ctx.values, 'smoothing') ?? '0.6';
    const smoothing = Number(raw);
    if (raw.trim() === '' || !(smoothing >= 0 && smoothing < 1))
      throw new XError('INVALID_INPUT', `--smoothing: expected a number in [0, 1), got '${raw}'`);
    const runs = ctx.positionals.map((p) => collectRun(resolve(ctx.cwd, p)));
    const seen = new Map<string, number>();
    for (const r of runs) {
      const n = (seen.get(r.name) ?? 0) + 1;
      seen.set(r.name, n);
      if (n > 1 || runs.filter((o) => o.name === r.name).length > 1)
        r.name = `${basename(dirname(r.dir))}/${r.name}`;
    }
    const out = resolve(ctx.cwd, outFlag);
    const html = reportHtml(runs, {
      title: str(ctx.values, 'title') ?? 'run report',
      smoothing,
      generatedAt: new Date().toISOString(),
    });
    mkdirSync(dirname(out), { recursive: true });
    const tmp = `${out}.${process.pid}.tmp`;
    writeFileSync(tmp, html);
    renameSync(tmp, out);
    for (const r of runs)
      ctx.out.info(
        `${r.name}: ${Object.keys(r.metrics).length} metrics, ${r.checkpoints.length} checkpoints, ${r.pictures.length} pictures${r.notes.length > 0 ? ` (${r.notes.join('; ')})` : ''}`,
      );
    ctx.out.line(`report: ${out}`);
    return Promise.resolve(0);
  },
};
