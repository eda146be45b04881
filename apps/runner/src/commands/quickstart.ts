import { join, resolve } from 'node:path';
import type { Command } from '../command.js';
import { allPipelines, quickstartSteps } from '../quickstart.js';
import { backendFlag } from '../runSetup.js';

export const quickstartCommand: Command = {
  path: ['quickstart'],
  summary: 'the main job: a short end-to-end reference run of every pipeline',
  usage: '[--out <dir>] [--backend <b>] [--quiet]',
  options: { out: { type: 'string' }, backend: { type: 'string' }, quiet: { type: 'boolean' } },
  async run(ctx) {
    const stamp = new Date()
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z');
    const outRoot = resolve(
      ctx.cwd,
      (ctx.values['out'] as string | undefined) ?? join('runs', `quickstart-${stamp}`),
    );
    const backend = backendFlag(ctx.values);
    const lines: string[] = [];
    for (const step of quickstartSteps) {
      ctx.out.info(`== ${step.name} ==`);
      lines.push(...(await step.run({ outRoot, backend, quiet: ctx.quiet, out: ctx.out })));
    }
    const present = new Set(quickstartSteps.map((s) => s.name));
    for (const p of allPipelines) if (!present.has(p)) ctx.out.line(`${p}: pipeline not there yet`);
    ctx.out.line(`quickstart outputs (${outRoot}):`);
    for (const l of lines) ctx.out.line(`  ${l}`);
    return 0;
  },
};
