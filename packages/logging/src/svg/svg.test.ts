import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExperimentLogger } from '../experimentLogger.js';
import { jsonlSink } from '../sinks/jsonlSink.js';
import { heatmapSvg } from './heatmap.js';
import { lineChartSvg } from './lineChart.js';
import { svgSink } from './svgSink.js';

describe('svg helpers', () => {
  it('lineChartSvg draws a path per series with gaps at NaN, no web fonts', () => {
    const svg = lineChartSvg(
      [
        { name: 'a<b', x: [0, 1, 2, 3], y: [1, NaN, 0.5, 0.25] },
        { name: 'c', x: [0, 3], y: [2, 2] },
      ],
      { title: 'loss', xLabel: 'step', logY: true },
    );
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<path /g)).toHaveLength(2);
    expect(svg).toContain('a&#60;b');
    expect(svg).not.toMatch(/@import|url\(|<script/);
    const d = /<path d="([^"]+)"/.exec(svg)![1]!;
    expect(d.match(/M/g)).toHaveLength(2);
  });

  it('heatmapSvg draws one cell per value', () => {
    const svg = heatmapSvg(
      [
        [0, 1, 2],
        [3, NaN, 5],
      ],
      { title: 'field', colorbar: false },
    );
    expect(svg.match(/<rect x=/g)).toHaveLength(6);
    expect(svg).toContain('#cccccc');
  });
});

describe('svg sink', () => {
  it('writes pictures with a retention cap and charts of chosen metrics', async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'svg-'));
    const logger = new ExperimentLogger({
      run: { runDir, pipeline: 't', config: {}, startStep: 0, resumed: false },
      sinks: [svgSink({ charts: ['train/*'], maxPictures: 3 })],
    });
    logger.registerRenderer('grid', (d) => heatmapSvg(d as number[][]));
    for (let s = 0; s < 6; s++) {
      logger.log({ loss: 1 / (s + 1) }, { step: s });
      logger.log({ acc: s }, { step: s, category: 'eval' });
      logger.picture(
        'grid',
        [
          [s, 1],
          [2, 3],
        ],
        { step: s, category: 'batch', name: 'env 1' },
      );
    }
    logger.picture('nope', 1, { step: 6, name: 'x' });
    await logger.close();
    const pics = readdirSync(join(runDir, 'svg', 'batch')).sort();
    expect(pics).toEqual([
      'env_1_step-00000003.svg',
      'env_1_step-00000004.svg',
      'env_1_step-00000005.svg',
    ]);
    const chart = join(runDir, 'svg', 'charts', 'train', 'loss.svg');
    expect(readFileSync(chart, 'utf8')).toContain('<path d="M');
    expect(existsSync(join(runDir, 'svg', 'charts', 'eval'))).toBe(false);
  });

  it('a resumed run charts the steps logged before the resume too', async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'svg-'));
    const make = (startStep: number, resumed: boolean) =>
      new ExperimentLogger({
        run: { runDir, pipeline: 't', config: {}, startStep, resumed },
        sinks: [jsonlSink(), svgSink({ charts: ['train/loss'] })],
      });
    const a = make(0, false);
    for (let s = 0; s < 10; s++) a.log({ loss: s }, { step: s });
    await a.close();
    const b = make(5, true);
    for (let s = 6; s < 12; s++) b.log({ loss: 100 + s }, { step: s });
    await b.close();
    const svg = readFileSync(join(runDir, 'svg', 'charts', 'train', 'loss.svg'), 'utf8');
    const d = /<path d="([^"]+)"/.exec(svg)![1]!;
    expect(d.split(/[ML]/).filter((p) => p !== '')).toHaveLength(12);
  });
});
