import { join, resolve } from 'node:path';
import type { Command } from '../command.js';
import { str, timestamp } from '../flags.js';
import type { QuickstartStep } from '../quickstart.js';
import { backendFlag } from '../runSetup.js';
import { iredQuickstartStep } from './iredQuickstart.js';
import { operatorsQuickstartStep } from './operatorsQuickstart.js';
import { timestepperQuickstartStep } from './timestepperQuickstart.js';

/** The main job's steps, in order: one short reference run per pipeline. */
export const quickstartSteps: readonly QuickstartStep[] = [
  iredQuickstartStep,
  operatorsQuickstartStep,
  timestepperQuickstartStep,
];

export const quickstartCommand: Command = {
  path: ['quickstart'],
  summary: 'the main job: a short end-to-end reference run of every pipeline',
  usage: '[--out <dir>] [--backend <b>] [--quiet]',
  options: {
    out: {
      type: 'string',
      arg: 'dir',
      description: 'output root (default runs/quickstart-<UTC timestamp>)',
    },
    backend: { type: 'string' },
    quiet: { type: 'boolean' },
  },
  async run(ctx) {
    const outRoot = resolve(
      ctx.cwd,
      str(ctx.values, 'out') ?? join('runs', `quickstart-${timestamp()}`),
    );
    const backend = backendFlag(ctx.values);
    const outputs: string[] = [];
    const findings: string[] = [];
    for (const step of quickstartSteps) {
      if (ctx.signal.aborted) break;
      ctx.out.info(`== ${step.name} ==`);
      const r = await step.run({
        outRoot,
        backend,
        quiet: ctx.quiet,
        out: ctx.out,
        signal: ctx.signal,
      });
      outputs.push(...r.outputs);
      findings.push(...r.findings);
    }
    if (ctx.signal.aborted)
      ctx.out.warn('interrupted: the steps after the current one were skipped');
    if (findings.length > 0) {
      ctx.out.line('quickstart results:');
      for (const l of findings) ctx.out.line(`  ${l}`);
    }
    ctx.out.line(`quickstart outputs (${outRoot}):`);
    for (const l of outputs) ctx.out.line(`  ${l}`);
    return 0;
  },
};
