/**
 * The report page's script (plain ES2020, no libraries): draws every metric as an SVG chart with
 * one line per run, smoothed by a TensorBoard-style debiased EMA set by the slider, and the
 * "only differences" filter of the hyperparameter table. Errors are written into the page
 * (`#errors`) and `data-rendered` is set on <body> when done, so a headless browser can check it.
 */
export const CLIENT_JS = String.raw`
(function () {
  'use strict';
  var errors = [];
  function report(msg) {
    errors.push(String(msg));
    var el = document.getElementById('errors');
    if (el) { el.textContent = errors.join('\n'); el.hidden = false; }
    document.body.setAttribute('data-errors', String(errors.length));
  }
  window.addEventListener('error', function (e) { report('error: ' + e.message); });
  window.addEventListener('unhandledrejection', function (e) { report('unhandled rejection: ' + e.reason); });
  var origError = console.error;
  console.error = function () { report('console.error: ' + Array.prototype.join.call(arguments, ' ')); origError.apply(console, arguments); };

  var NS = 'http://www.w3.org/2000/svg';
  var SUP = { '-': '\u207b', '0': '\u2070', '1': '\u00b9', '2': '\u00b2', '3': '\u00b3', '4': '\u2074', '5': '\u2075', '6': '\u2076', '7': '\u2077', '8': '\u2078', '9': '\u2079' };
  function fmt(v) {
    if (!isFinite(v)) return String(v);
    var a = Math.abs(v);
    if (a === 0 || (a >= 1e-3 && a < 1e5)) return String(Number(v.toPrecision(4)));
    var p = v.toExponential(2).split('e');
    var m = String(Number(p[0]));
    var pow = '10' + String(Number(p[1])).split('').map(function (c) { return SUP[c] || c; }).join('');
    return m === '1' ? pow : m === '-1' ? '-' + pow : m + '\u00d7' + pow;
  }
  function tickLabel(v, all) {
    var step = Math.abs((all[1] === undefined ? v : all[1]) - all[0]), a = Math.abs(v);
    if (!(step > 0) || a === 0 || a < 1e-3 || a >= 1e5) return fmt(v);
    return String(Number(v.toFixed(Math.min(8, Math.max(0, -Math.floor(Math.log10(step) + 1e-9))))));
  }
  function ticks(lo, hi, n) {
    if (!(hi > lo)) return [lo];
    var raw = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 5, 10].map(function (k) { return k * mag; }).find(function (s) { return s >= raw; }) || raw;
    var out = [];
    for (var t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
    return out;
  }
  function el(name, attrs, parent, text) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function smooth(ys, w) {
    if (w <= 0) return ys.slice();
    var out = [], last = 0, n = 0;
    for (var i = 0; i < ys.length; i++) {
      var v = ys[i];
      if (v === null || !isFinite(v)) { out.push(null); continue; }
      last = last * w + (1 - w) * v; n++;
      out.push(last / (1 - Math.pow(w, n)));
    }
    return out;
  }

  var data = JSON.parse(document.getElementById('report-data').textContent);
  var W = 540, H = 300, M = { l: 84, r: 16, t: 30, b: 44 };

  function drawChart(name, weight) {
    var runs = data.runs.filter(function (r) { return r.metrics[name]; });
    var x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    runs.forEach(function (r) {
      var s = r.metrics[name];
      s.x.forEach(function (x, i) {
        var y = s.y[i];
        if (y === null) return;
        x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
      });
    });
    if (x0 === Infinity) { x0 = 0; x1 = 1; y0 = 0; y1 = 1; }
    if (x1 === x0) { x0 -= 0.5; x1 += 0.5; }
    if (y1 === y0) { var d = Math.abs(y0) || 1; y0 -= d / 2; y1 += d / 2; }
    var pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad;
    var pw = W - M.l - M.r, ph = H - M.t - M.b;
    function px(x) { return M.l + ((x - x0) / (x1 - x0)) * pw; }
    function py(y) { return M.t + ph - ((y - y0) / (y1 - y0)) * ph; }
    var svg = el('svg', { xmlns: NS, width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, class: 'chart', 'data-metric': name });
    el('rect', { width: W, height: H, fill: '#fff' }, svg);
    el('text', { x: W / 2, y: 18, 'text-anchor': 'middle', 'font-weight': '600' }, svg, name);
    var yt = ticks(y0, y1, 5), xt = ticks(x0, x1, 6);
    yt.forEach(function (t) {
      el('line', { x1: M.l, x2: M.l + pw, y1: py(t), y2: py(t), stroke: '#e6e6e6' }, svg);
      el('text', { x: M.l - 6, y: py(t), 'text-anchor': 'end', 'dominant-baseline': 'middle', fill: '#444' }, svg, tickLabel(t, yt));
    });
    xt.forEach(function (t) {
      el('line', { x1: px(t), x2: px(t), y1: M.t + ph, y2: M.t + ph + 4, stroke: '#444' }, svg);
      el('text', { x: px(t), y: M.t + ph + 16, 'text-anchor': 'middle', fill: '#444' }, svg, tickLabel(t, xt));
    });
    el('rect', { x: M.l, y: M.t, width: pw, height: ph, fill: 'none', stroke: '#444' }, svg);
    el('text', { x: M.l + pw / 2, y: H - 6, 'text-anchor': 'middle' }, svg, 'step');
    el('text', { transform: 'translate(14 ' + (M.t + ph / 2) + ') rotate(-90)', 'text-anchor': 'middle' }, svg, name.split('/').pop());
    runs.forEach(function (r) {
      var s = r.metrics[name];
      [[s.y, 0.25, 1], [smooth(s.y, weight), 1, 1.8]].forEach(function (v, k) {
        if (k === 0 && weight <= 0) return;
        var d = '', pen = 'M';
        v[0].forEach(function (y, i) {
          if (y === null) { pen = 'M'; return; }
          d += pen + px(s.x[i]).toFixed(1) + ',' + py(y).toFixed(1); pen = 'L';
        });
        var path = el('path', { d: d, fill: 'none', stroke: r.color, 'stroke-opacity': v[1], 'stroke-width': v[2], class: k === 1 ? 'run-line' : 'raw-line' }, svg);
        el('title', {}, path, r.name);
      });
      if (s.x.length <= 40) s.x.forEach(function (x, i) {
        var y = smooth(s.y, weight)[i];
        if (y !== null) el('circle', { cx: px(x), cy: py(y), r: 2.5, fill: r.color }, svg);
      });
    });
    var lw = 34 + 6.5 * Math.max.apply(null, runs.map(function (r) { return r.name.length; }).concat([0]));
    el('rect', { x: M.l + pw - lw - 4, y: M.t + 4, width: lw, height: 14 * runs.length + 4, fill: '#fff', 'fill-opacity': 0.85, stroke: '#ddd' }, svg);
    runs.forEach(function (r, k) {
      var ly = M.t + 12 + 14 * k, lx = M.l + pw - lw;
      el('line', { x1: lx, x2: lx + 18, y1: ly, y2: ly, stroke: r.color, 'stroke-width': 2 }, svg);
      el('text', { x: lx + 24, y: ly, 'dominant-baseline': 'middle', class: 'legend' }, svg, r.name);
    });
    return svg;
  }

  function drawAll() {
    var weight = Number(document.getElementById('smoothing').value);
    document.getElementById('smoothing-value').textContent = weight.toFixed(2);
    var host = document.getElementById('charts');
    while (host.firstChild) host.removeChild(host.firstChild);
    data.metricNames.forEach(function (name) { host.appendChild(drawChart(name, weight)); });
    document.body.setAttribute('data-charts', String(data.metricNames.length));
  }

  function filterDiff() {
    var only = document.getElementById('only-diff').checked;
    document.querySelectorAll('#hparams tbody tr').forEach(function (tr) {
      tr.hidden = only && !tr.classList.contains('diff');
    });
  }

  try {
    document.getElementById('smoothing').addEventListener('input', drawAll);
    document.getElementById('only-diff').addEventListener('change', filterDiff);
    drawAll();
    filterDiff();
    document.body.setAttribute('data-resources', String(performance.getEntriesByType('resource').length));
    document.body.setAttribute('data-rendered', 'ok');
  } catch (e) {
    report('render failed: ' + (e && e.stack ? e.stack : e));
  }
})();
`;
