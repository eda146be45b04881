import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExperimentLogger } from '../experimentLogger.js';
import { jsonlSink } from '../sinks/jsonlSink.js';
import { heatmapSvg } from './heatmap.js';
import { lineChartSvg, panelsSvg } from './lineChart.js';
import { svgSink } from './svgSink.js';
import { fmt } from './svgText.js';
import { tableSvg } from './table.js';

/** The text of every `<text class="…">` element of a class, in document order. */
function texts(svg: string, cls: string): string[] {
  return [...svg.matchAll(new RegExp(`<text class="${cls}"[^>]*>([^<]*)</text>`, 'g'))].map(
    (m) => m[1] as string,
  );
}

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
    expect(svg.match(/<path d="M[^"]*" fill="none"/g)).toHaveLength(2);
    expect(svg).toContain('a&#60;b');
    expect(svg).not.toMatch(/@import|url\(|<script/);
    const d = /<path d="([^"]+)" fill="none"/.exec(svg)![1]!;
    expect(d.match(/M/g)).toHaveLength(2);
  });

  it('lineChartSvg labels axes, marks points, draws reference lines and a legend', () => {
    const svg = lineChartSvg(
      [
        { name: 'fixed', x: [1e3, 1e4, 1e5], y: [1e-2, 1e-4, 1e-6] },
        { name: 'adaptive', x: [1e3, 1e4, 1e5], y: [1e-3, 1e-5, 1e-8] },
      ],
      {
        xLabel: 'force evaluations',
        yLabel: 'max |ΔE/E₀|',
        logX: true,
        logY: true,
        refLines: [{ axis: 'y', value: 1e-4, label: 'tolerance 10⁻⁴' }],
      },
    );
    expect(texts(svg, 'axis-label')).toEqual(['force evaluations', 'max |ΔE/E₀|']);
    expect(texts(svg, 'legend')).toEqual(['fixed', 'adaptive', 'tolerance 10⁻⁴']);
    expect(svg.match(/<circle /g)?.length).toBe(3 + 1); // 3 points + legend sample
    expect(svg.match(/<rect x="[^"]*" y="[^"]*" width="6" height="6"/g)?.length).toBe(3 + 1);
    expect(svg).toMatch(/<line class="ref-line"[^>]*stroke-dasharray/);
    // one tick format on both log axes: powers of ten
    const ticks = texts(svg, 'tick');
    expect(ticks.length).toBeGreaterThan(4);
    for (const t of ticks)
      expect(t).toMatch(/^10[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+$|^(1|10|100|1000|10000|0\.1|0\.01|0\.001)$/);
  });

  it('fmt writes one style: decimals in [1e-3, 1e5), powers of ten outside', () => {
    expect([0, 0.5, 1234, 1e-4, 2.5e-7, 1e6, -3e8].map(fmt)).toEqual([
      '0',
      '0.5',
      '1234',
      '10⁻⁴',
      '2.5×10⁻⁷',
      '10⁶',
      '-3×10⁸',
    ]);
  });

  it('linear ticks keep the decimals their spacing needs', () => {
    const svg = lineChartSvg([{ name: 'E', x: [0, 1, 2], y: [1694.01, 1694.005, 1694.002] }], {
      yLabel: 'E',
    });
    const y = texts(svg, 'tick').slice(0, -3);
    expect(new Set(y).size).toBe(y.length);
    expect(y).toContain('1694.004');
  });

  it('panelsSvg lays pictures out on a grid with their own axes', () => {
    const a = lineChartSvg([{ name: 'E', x: [0, 1], y: [1, 2] }], {
      title: 'energy',
      width: 300,
      height: 200,
    });
    const b = lineChartSvg([{ name: 'dt', x: [0, 1], y: [3, 4] }], {
      title: 'dt',
      width: 300,
      height: 200,
    });
    const svg = panelsSvg([a, b], { columns: 2, title: 'both' });
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="600" height="230"/);
    expect(svg).toContain('<svg x="0" y="30" ');
    expect(svg).toContain('<svg x="300" y="30" ');
    expect(svg).toContain('>energy</text>');
    expect(svg).toContain('>dt</text>');
  });

  it('heatmapSvg draws one cell per value and a labelled color bar with the range', () => {
    const svg = heatmapSvg(
      [
        [0, 1, 2],
        [3, NaN, 5],
      ],
      { title: 'field', colorbar: false },
    );
    expect(svg.match(/<rect x=/g)).toHaveLength(6);
    expect(svg).toContain('#cccccc');
    const bar = heatmapSvg([[-0.25, 4]], { colorbarLabel: 'channel 0' });
    const ticks = texts(bar, 'colorbar-tick');
    expect(ticks[0]).toBe('4');
    expect(ticks.at(-1)).toBe('-0.25');
    expect(texts(bar, 'colorbar-label')).toEqual(['channel 0']);
  });

  it('tableSvg writes a header and one row per record, numbers in one format', () => {
    const svg = tableSvg(
      ['operator', 'layers', 'noise'],
      [
        [0, 4, 0.0001],
        [1, 2, 'n/a'],
      ],
      { title: 'hyperparameters' },
    );
    expect(texts(svg, 'th')).toEqual(['operator', 'layers', 'noise']);
    expect(texts(svg, 'td')).toEqual(['0', '4', '10⁻⁴', '1', '2', 'n/a']);
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
    const chart = readFileSync(join(runDir, 'svg', 'charts', 'train', 'loss.svg'), 'utf8');
    expect(chart).toContain('<path d="M');
    expect(texts(chart, 'axis-label')).toEqual(['step', 'loss']);
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

  it('draws episode summaries as a table per category', async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'svg-'));
    const logger = new ExperimentLogger({
      run: { runDir, pipeline: 't', config: {}, startStep: 0, resumed: false },
      sinks: [svgSink({ maxTableRows: 2 })],
    });
    for (let i = 0; i < 3; i++)
      logger.logEpisode(
        { index: i, numLayers: 2 + i, noiseType: 'gaussian' },
        { step: i + 1, category: 'operators' },
      );
    await logger.close();
    const svg = readFileSync(join(runDir, 'svg', 'tables', 'operators.svg'), 'utf8');
    expect(svg).toContain('operators (first 2 of 3)');
    expect(texts(svg, 'th')).toEqual(['step', 'index', 'numLayers', 'noiseType']);
    expect(texts(svg, 'td')).toEqual(['1', '0', '2', 'gaussian', '2', '1', '3', 'gaussian']);
  });
});
