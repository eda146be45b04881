import { XError } from '@x/core';
import type { BackendProbe, SelfCheckReport } from '@x/tensor';
import type { Command } from '../command.js';
import { backendFlag } from '../runSetup.js';
import { versionsReport } from '../versions.js';

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toExponential(1) : String(x);
}

function threadsOption(raw: unknown): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < 1)
    throw new XError(
      'INVALID_INPUT',
      `--threads: expected an integer >= 1, got ${JSON.stringify(raw)}`,
    );
  return n;
}

function adapterLine(p: BackendProbe): string | undefined {
  const a = p.adapter;
  if (a === undefined) return undefined;
  return `  ${''.padEnd(11)} adapter: vendor ${a.vendor || '?'}, architecture ${a.architecture || '?'}, ${a.description || a.device || '?'} (${a.software ? 'software: used only with --backend webgpu' : 'hardware'})`;
}

function reportLines(report: SelfCheckReport): string[] {
  return report.rows.map((r) => {
    const status = r.ok ? 'ok  ' : 'FAIL';
    const detail = r.error === undefined ? `max rel err ${fmt(r.maxRelError)}` : r.error;
    return `    ${status} ${`${r.op} (order ${r.order})`.padEnd(32)} ${detail.padEnd(22)} ${r.ms.toFixed(0)} ms`;
  });
}

export const doctorCommand: Command = {
  path: ['doctor'],
  summary:
    'tensor backends available and chosen, versions, gradient self-check of the training ops',
  usage: '[--backend <auto|tensorflow|webgpu|wasm|cpu>] [--threads <n>]',
  help: 'Probes every backend (and looks for a WebGPU adapter), reports the one chosen (--backend or\nX_BACKEND force it) with its threads or adapter, and checks first- and second-order gradients of\nthe training ops against finite differences on each usable backend (a software WebGPU adapter\nonly with --backend webgpu). --threads (or X_THREADS) sets the wasm threads. Exits 1 when a\ncheck fails.',
  options: { backend: { type: 'string' }, threads: { type: 'string' }, quiet: { type: 'boolean' } },
  async run(ctx) {
    const request = backendFlag(ctx.values);
    const threads = threadsOption(ctx.values['threads']);
    const { initBackend, probeBackends, selfCheck } = await import('@x/tensor');
    const probes = await probeBackends({ searchAdapters: true });
    ctx.out.line('versions:');
    for (const [k, v] of Object.entries(versionsReport())) ctx.out.line(`  ${k.padEnd(28)} ${v}`);
    ctx.out.line('backends (priority order):');
    for (const p of probes) {
      ctx.out.line(
        `  ${p.name.padEnd(11)} ${p.available ? 'available  ' : 'unavailable'} ${p.detail}`,
      );
      const adapter = adapterLine(p);
      if (adapter !== undefined) ctx.out.line(adapter);
    }
    const chosen = await initBackend({ backend: request, threads });
    const how =
      chosen.threads !== undefined
        ? `, ${chosen.threads} thread${chosen.threads === 1 ? '' : 's'}`
        : chosen.adapter !== undefined
          ? `, adapter ${chosen.adapter.vendor}/${chosen.adapter.architecture} (${chosen.adapter.software ? 'software' : 'hardware'})`
          : '';
    ctx.out.line(
      `chosen: ${chosen.name} (requested ${request}; ${chosen.packageName}@${chosen.packageVersion}, tfjs-core ${chosen.tfjsVersion}${how})`,
    );
    if (!probes.some((p) => p.name === 'tensorflow' && p.available)) {
      ctx.out.line(
        '  note: for native TensorFlow (and CUDA) install @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu (see packages/tensor/README.md)',
      );
    }
    ctx.out.line('gradient self-check (finite differences, first and second order):');
    let ok = true;
    const targets =
      request === 'auto'
        ? probes.filter((p) => p.available && p.adapter?.software !== true).map((p) => p.name)
        : [chosen.name];
    for (const name of targets) {
      ctx.out.info(`  checking ${name}…`);
      const report = await selfCheck(name);
      ok &&= report.ok;
      ctx.out.line(`  ${name}: ${report.ok ? 'ok' : 'FAILED'}`);
      for (const l of reportLines(report)) ctx.out.line(l);
    }
    await initBackend({ backend: request, threads });
    ctx.out.line(ok ? 'doctor: all checks passed' : 'doctor: some checks FAILED');
    return ok ? 0 : 1;
  },
};
