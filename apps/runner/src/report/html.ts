import { chartPalette } from '@x/logging';
import { CLIENT_JS } from './client.js';
import type { RunData } from './collect.js';

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function show(v: unknown): string {
  if (v === undefined) return '';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > 120 ? `${s.slice(0, 119)}…` : s;
}

/** Dotted leaf paths of a nested object (arrays are leaves). */
function flatten(o: Record<string, unknown>, prefix = '', out = new Map<string, unknown>()) {
  for (const [k, v] of Object.entries(o)) {
    const key = prefix === '' ? k : `${prefix}.${k}`;
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length > 0)
      flatten(v as Record<string, unknown>, key, out);
    else out.set(key, v);
  }
  return out;
}

function keyTable(
  id: string,
  runs: readonly RunData[],
  pick: (r: RunData) => Record<string, unknown> | undefined,
): string {
  const flat = runs.map((r) => {
    const o = pick(r);
    return o === undefined ? undefined : flatten(o);
  });
  const keys = [...new Set(flat.flatMap((f) => (f === undefined ? [] : [...f.keys()])))].sort();
  if (keys.length === 0) return '<p class="note">nothing recorded</p>';
  const head = runs
    .map(
      (r, i) =>
        `<th style="color:${chartPalette[i % chartPalette.length] ?? '#000'}">${esc(r.name)}</th>`,
    )
    .join('');
  const rows = keys.map((k) => {
    const vals = flat.map((f) => (f === undefined ? '—' : show(f.get(k))));
    const diff = runs.length > 1 && new Set(vals).size > 1;
    return `<tr${diff ? ' class="diff"' : ''}><td class="key">${esc(k)}</td>${vals.map((v) => `<td>${esc(v)}</td>`).join('')}</tr>`;
  });
  return `<table id="${id}"><thead><tr><th>key</th>${head}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function checkpointTable(r: RunData): string {
  if (r.checkpoints.length === 0) return '<p class="note">no checkpoints</p>';
  const names = [...new Set(r.checkpoints.flatMap((c) => Object.keys(c.metrics)))].slice(0, 8);
  const head = ['step', 'created (UTC)', ...names, ''].map((h) => `<th>${esc(h)}</th>`).join('');
  const rows = r.checkpoints.map((c) => {
    const cells = [
      String(c.step),
      c.createdAt.replace('T', ' ').replace(/\.\d+Z$/, ''),
      ...names.map((n) => {
        const v = c.metrics[n];
        return v === undefined ? '' : String(Number(v.toPrecision(5)));
      }),
    ].map((v) => `<td>${esc(v)}</td>`);
    const tags = c.tags.map((t) => `<span class="tag">${esc(t)}</span>`).join(' ');
    return `<tr${c.tags.length > 0 ? ' class="marked"' : ''}>${cells.join('')}<td>${tags}</td></tr>`;
  });
  return `<table class="ckpt"><thead><tr>${head}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function pictures(r: RunData): string {
  if (r.pictures.length === 0) return '<p class="note">no pictures</p>';
  return `<div class="pictures">${r.pictures
    .map(
      (p) =>
        `<figure><img alt="${esc(p.path)}" src="data:image/svg+xml;base64,${Buffer.from(p.svg).toString('base64')}"><figcaption>${esc(p.path)}</figcaption></figure>`,
    )
    .join('')}</div>`;
}

const CSS = `
body{font:14px system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:20px}h2{font-size:17px;margin-top:32px;border-bottom:1px solid #ddd}h3{font-size:15px}
.runs span{display:inline-block;margin-right:16px}.swatch{display:inline-block;width:14px;height:4px;vertical-align:middle;margin-right:6px}
#charts{display:flex;flex-wrap:wrap;gap:12px}.chart{border:1px solid #ddd;background:#fff}
table{border-collapse:collapse;background:#fff;margin:8px 0;font-size:13px}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#eef2f6}td.key{font-family:ui-monospace,Menlo,Consolas,monospace}tr.diff td{background:#fff6d6}tr.marked td{background:#eef8ee}
.tag{background:#2e7d32;color:#fff;border-radius:3px;padding:0 5px;font-size:12px}
.pictures{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0;background:#fff;border:1px solid #ddd;padding:6px}figure img{max-width:560px;max-height:480px;display:block}
figcaption{font-size:12px;color:#555;margin-top:4px}.note{color:#777}#errors{color:#b00;white-space:pre-wrap}
.controls{margin:8px 0}`;

/** Options of {@link reportHtml}. */
export interface ReportOptions {
  title: string;
  /** Initial smoothing weight of the EMA slider (0 = none, below 1). */
  smoothing: number;
  generatedAt: string;
}

/**
 * One self-contained HTML page comparing runs: metrics overlaid (with an EMA smoothing slider),
 * hyperparameters (differences highlighted), checkpoints (last/best), provenance and pictures.
 * No network: styles and script are inline, pictures are data URIs, fonts are the system's.
 */
export function reportHtml(runs: readonly RunData[], opts: ReportOptions): string {
  const colored = runs.map((r, i) => ({
    ...r,
    color: chartPalette[i % chartPalette.length] ?? '#000',
  }));
  const metricNames = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort();
  const data = {
    runs: colored.map((r) => ({ name: r.name, color: r.color, metrics: r.metrics })),
    metricNames,
  };
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  const runList = colored
    .map(
      (r) =>
        `<span><span class="swatch" style="background:${r.color}"></span><b>${esc(r.name)}</b> <span class="note">${esc(r.dir)}</span></span>`,
    )
    .join('');
  const perRun = (body: (r: RunData) => string) =>
    colored.map((r) => `<h3 style="color:${r.color}">${esc(r.name)}</h3>${body(r)}`).join('');
  const notes = colored.flatMap((r) => r.notes.map((n) => `<li>${esc(r.name)}: ${esc(n)}</li>`));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>${esc(opts.title)}</title><style>${CSS}</style></head>
<body>
<h1>${esc(opts.title)}</h1>
<p class="note">generated ${esc(opts.generatedAt)} by runner report</p>
<div class="runs">${runList}</div>
<pre id="errors" hidden></pre>
${notes.length > 0 ? `<ul class="note">${notes.join('')}</ul>` : ''}
<h2>Metrics</h2>
<div class="controls"><label>smoothing (EMA weight) <input id="smoothing" type="range" min="0" max="0.99" step="0.01" value="${opts.smoothing}"></label> <span id="smoothing-value"></span></div>
<div id="charts">${metricNames.length === 0 ? '<p class="note">no metrics logged</p>' : ''}</div>
<h2>Hyperparameters</h2>
<div class="controls"><label><input id="only-diff" type="checkbox"${runs.length > 1 ? ' checked' : ''}> only keys that differ between runs</label></div>
${keyTable('hparams', colored, (r) => r.config)}
<h2>Checkpoints</h2>
${perRun(checkpointTable)}
<h2>Provenance</h2>
${keyTable('provenance', colored, (r) => r.provenance)}
<h2>Pictures</h2>
${perRun(pictures)}
<script type="application/json" id="report-data">${json}</script>
<script>${CLIENT_JS}</script>
</body></html>
`;
}
