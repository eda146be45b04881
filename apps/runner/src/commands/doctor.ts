import type { SelfCheckReport } from '@x/tensor';
import type { Command } from '../command.js';
import { backendFlag } from '../runSetup.js';
import { versionsReport } from '../versions.js';

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toExponential(1) : String(x);
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
  usage: '[--backend <auto|tensorflow|wasm|cpu>]',
  help: 'Probes every backend, reports the one chosen (--backend or X_BACKEND force it), and checks\nfirst- and second-order gradients of the training ops against finite differences on each\navailable backend. Exits 1 when a check fails.',
  options: { backend: { type: 'string' }, quiet: { type: 'boolean' } },
  async run(ctx) {
    const request = backendFlag(ctx.values);
    const { initBackend, probeBackends, selfCheck } = await import('@x/tensor');
    const probes = await probeBackends();
    ctx.out.line('versions:');
    for (const [k, v] of Object.entries(versionsReport())) ctx.out.line(`  ${k.padEnd(28)} ${v}`);
    ctx.out.line('backends (priority order):');
    for (const p of probes)
      ctx.out.line(
        `  ${p.name.padEnd(11)} ${p.available ? 'available  ' : 'unavailable'} ${p.detail}`,
      );
    const chosen = await initBackend(request);
    ctx.out.line(
      `chosen: ${chosen.name} (requested ${request}; ${chosen.packageName}@${chosen.packageVersion}, tfjs-core ${chosen.tfjsVersion})`,
    );
    if (!probes.some((p) => p.name === 'tensorflow' && p.available)) {
      ctx.out.line(
        '  note: for native TensorFlow (and CUDA) install @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu (see packages/tensor/README.md)',
      );
    }
    ctx.out.line('gradient self-check (finite differences, first and second order):');
    let ok = true;
    const targets =
      request === 'auto' ? probes.filter((p) => p.available).map((p) => p.name) : [chosen.name];
    for (const name of targets) {
      ctx.out.info(`  checking ${name}…`);
      const report = await selfCheck(name);
      ok &&= report.ok;
      ctx.out.line(`  ${name}: ${report.ok ? 'ok' : 'FAILED'}`);
      for (const l of reportLines(report)) ctx.out.line(l);
    }
    await initBackend(request);
    ctx.out.line(ok ? 'doctor: all checks passed' : 'doctor: some checks FAILED');
    return ok ? 0 : 1;
  },
};
