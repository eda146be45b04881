import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reportCommand } from '../commands/report.js';
import { runInProcess } from '../testkit.js';

const chromium = ['chromium', 'chromium-browser'].find(
  (b) => spawnSync(b, ['--version'], { encoding: 'utf8' }).status === 0,
);

/** A run directory as the runner writes it: config with provenance, metrics, checkpoints, pictures. */
function fakeRun(root: string, name: string, lr: number, slope: number): string {
  const dir = join(root, name);
  mkdirSync(join(dir, 'logs'), { recursive: true });
  writeFileSync(
    join(dir, 'config.yaml'),
    `# resolved config\nseed: 0\nsteps: 30\ntrain:\n  learningRate: ${lr}\n  batchSize: 16\n` +
      `checkpoint:\n  keepBest:\n    metric: loss\n    mode: min\n    k: 1\n` +
      `# where the run came from\nprovenance:\n  git:\n    commit: abc123${name}\n    dirty: false\n  command: runner ired train --out ${name}\n  host: box\n  startedAt: 2026-12-04T10:00:00Z\n  versions:\n    node: v24\n`,
  );
  const rows = Array.from({ length: 30 }, (_, s) =>
    JSON.stringify({
      step: s + 1,
      time: 1e9 + s,
      'train/loss': 1 / (1 + slope * s),
      'train/acc': s === 3 ? 'NaN' : s / 30,
    }).replace('"NaN"', 'NaN'),
  );
  writeFileSync(join(dir, 'logs', 'metrics.jsonl'), `${rows.join('\n')}\n`);
  for (const [step, loss] of [
    [10, 0.4],
    [20, 0.2],
    [30, 0.3],
  ] as const) {
    const c = join(dir, 'checkpoints', `step-${String(step).padStart(8, '0')}`);
    mkdirSync(c, { recursive: true });
    writeFileSync(
      join(c, 'manifest.json'),
      JSON.stringify({ step, createdAt: '2026-12-04T10:00:00.000Z', metrics: { loss } }),
    );
  }
  mkdirSync(join(dir, 'svg', 'charts'), { recursive: true });
  writeFileSync(
    join(dir, 'svg', 'charts', 'loss.svg'),
    '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="40" height="20" fill="#4e79a7"/></svg>',
  );
  return dir;
}

describe('runner report', () => {
  const root = mkdtempSync(join(tmpdir(), 'report-'));
  const a = fakeRun(root, 'lr-small', 0.001, 0.2);
  const b = fakeRun(root, 'lr-large', 0.003, 0.5);
  const out = join(root, 'out', 'report.html');

  it('writes one self-contained page: metrics, config diff, checkpoints, provenance, pictures', async () => {
    const r = await runInProcess([reportCommand], ['report', a, b, '--out', out], root);
    expect(r.stderr).toContain('lr-small: 2 metrics, 3 checkpoints, 1 pictures');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`report: ${out}`);
    const html = readFileSync(out, 'utf8');
    // nothing fetched: no external scripts, styles, fonts or images
    expect(html).not.toMatch(/<link|<script src|@import|url\(|src="http|href="http/);
    expect(html).toContain(
      '<tr class="diff"><td class="key">train.learningRate</td><td>0.001</td><td>0.003</td></tr>',
    );
    expect(html).toContain('<td class="key">train.batchSize</td><td>16</td><td>16</td>');
    expect(html).toContain('abc123lr-small');
    expect(html).toContain('runner ired train --out lr-large');
    expect(html).toMatch(/<tr class="marked"><td>20<\/td>.*?best \(loss, min\)/);
    expect(html).toMatch(/<tr class="marked"><td>30<\/td>.*?>last</);
    expect(html).toContain('src="data:image/svg+xml;base64,');
    const data = JSON.parse(
      /<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)![1]!,
    ) as {
      metricNames: string[];
      runs: { name: string; metrics: Record<string, { y: (number | null)[] }> }[];
    };
    expect(data.metricNames).toEqual(['train/acc', 'train/loss']);
    expect(data.runs.map((x) => x.name)).toEqual(['lr-small', 'lr-large']);
    expect(data.runs[0]!.metrics['train/acc']!.y[3]).toBeNull(); // NaN kept as a gap
  });

  it('rejects what is not a run directory, and a missing --out, with exit 2', async () => {
    const bad = await runInProcess([reportCommand], ['report', root, '--out', out], root);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`${root}: not a run directory`);
    const noOut = await runInProcess([reportCommand], ['report', a], root);
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toContain('--out <file.html> is required');
  });

  it.skipIf(chromium === undefined)(
    'renders in headless Chromium without script errors or network, charts drawn (skipped without chromium: apt-get install chromium)',
    async () => {
      if (!existsSync(out))
        await runInProcess([reportCommand], ['report', a, b, '--out', out], root);
      const flags = [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--hide-scrollbars',
        '--host-resolver-rules=MAP * ~NOTFOUND',
        '--virtual-time-budget=5000',
      ];
      const dom = spawnSync(chromium as string, [...flags, '--dump-dom', `file://${out}`], {
        encoding: 'utf8',
        timeout: 90_000,
      });
      expect(dom.status).toBe(0);
      const body = /<body([^>]*)>/.exec(dom.stdout)?.[1] ?? '';
      expect(body).toContain('data-rendered="ok"');
      expect(body).toContain('data-charts="2"');
      expect(body).toContain('data-resources="0"');
      expect(body).not.toContain('data-errors');
      expect(dom.stdout).toMatch(/<pre id="errors" hidden=""><\/pre>/);
      // two charts, each with one smoothed line per run
      expect(dom.stdout.match(/class="run-line"/g)).toHaveLength(4);
      const png = join(root, 'report.png');
      const shot = spawnSync(
        chromium as string,
        [...flags, '--window-size=1280,1600', `--screenshot=${png}`, `file://${out}`],
        { encoding: 'utf8', timeout: 90_000 },
      );
      expect(shot.status).toBe(0);
      const bytes = readFileSync(png);
      expect(bytes.subarray(1, 4).toString()).toBe('PNG');
      expect(statSync(png).size).toBeGreaterThan(20_000); // not a blank page
    },
  );
});
