import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  extractFamily,
  generateDataset,
  resolveDatasetConfig,
  trajectorySvg,
  verifyDataset,
  type RolloutResult,
} from '@x/operator-replay';
import { initBackend } from '@x/tensor';
import { quickstartSteps, type QuickstartStep } from '../quickstart.js';
import { logRollout, operatorsLogger, progressBar } from './operators.js';

/** Quickstart config: 8 small operators (grid 16, 8 timesteps, 2 realizations). */
export const operatorsQuickstartConfig = {
  rootSeed: 2024,
  timesteps: 8,
  realizations: 2,
  chunkSize: 4,
  parameters: {
    grid_size: { kind: 'choice', options: [16] },
    base_channels: { kind: 'int', min: 4, max: 8 },
  },
};

/** `runner quickstart` step: generate a small dataset, verify it by replay, extract a family. */
export const operatorsQuickstartStep: QuickstartStep = {
  name: 'operators',
  async run(ctx) {
    const dir = join(ctx.outRoot, 'operators');
    const svgDir = join(dir, 'svg');
    mkdirSync(svgDir, { recursive: true });
    const file = join(dir, 'dataset.h5');
    const info = await initBackend(ctx.backend);
    const config = resolveDatasetConfig(operatorsQuickstartConfig, 'quickstart defaults');
    const pictures: string[] = [];
    const runDir = join(dir, 'run');
    const logger = operatorsLogger(runDir, config, undefined, 8);
    const picture = (r: RolloutResult) => {
      logRollout(logger, config, r);
      if (pictures.length >= 3) return;
      const p = join(svgDir, `operator-${String(r.index).padStart(5, '0')}.svg`);
      writeFileSync(p, trajectorySvg(r));
      pictures.push(p);
    };
    await generateDataset({
      config,
      total: 8,
      out: file,
      onProgress: progressBar(ctx.out, `generate (${info.name})`),
      onRollout: picture,
    });
    await logger.close({ exitCode: 0, preempting: false });
    const report = await verifyDataset(file, {
      onProgress: progressBar(ctx.out, 'replay --verify'),
    });
    ctx.out.info(`replay: ${report.checked} operators bit-exact on ${info.name}`);
    await extractFamily(file, 'temporal', { onProgress: progressBar(ctx.out, 'extract temporal') });
    return [
      `operators dataset (8 operators, summary + temporal features): ${file}`,
      `operators replay: ${report.checked}/${report.checked} bit-exact (backend ${info.name})`,
      `operators pictures: ${svgDir}`,
      `operators generation log: ${runDir}/logs`,
    ];
  },
};

quickstartSteps.push(operatorsQuickstartStep);
