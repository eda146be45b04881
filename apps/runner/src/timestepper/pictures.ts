import { formatNumber, lineChartSvg, panelsSvg, type Series } from '@x/logging';
import type { BenchReport, IntegrateResult } from '@x/timestepper';

/** Particle paths (x–y plane) of a recorded integration, one coloured line per body. */
export function orbitSvg(result: IntegrateResult, title: string): string {
  const first = result.frames[0];
  const axes = { xLabel: 'x (N-body length units)', yLabel: 'y (N-body length units)' };
  if (first === undefined) return lineChartSvg([], { title, ...axes });
  const N = first.x.length / 3;
  const series: Series[] = [];
  for (let i = 0; i < N && i < 12; i++) {
    series.push({
      name: `body ${i}`,
      x: result.frames.map((f) => f.x[i * 3] as number),
      y: result.frames.map((f) => f.x[i * 3 + 1] as number),
      marker: 'none',
    });
  }
  return lineChartSvg(series, { title, ...axes, width: 520, height: 560 });
}

/**
 * Relative energy error and step size along a recorded integration, on two panels that share
 * the time axis (each with its own log scale).
 */
export function energySvg(result: IntegrateResult, title: string): string {
  const frames = result.frames.slice(1);
  const t = frames.map((f) => f.t);
  const xLabel = 'time t (N-body time units)';
  return panelsSvg(
    [
      lineChartSvg(
        [{ name: '|ΔE/E₀|', x: t, y: frames.map((f) => f.relEnergyError), marker: 'none' }],
        {
          title: 'relative energy error',
          xLabel,
          yLabel: '|E(t) − E₀| / |E₀|',
          logY: true,
          legend: false,
          width: 640,
          height: 260,
        },
      ),
      lineChartSvg([{ name: 'dt', x: t, y: frames.map((f) => f.dt), marker: 'none' }], {
        title: 'step size',
        xLabel,
        yLabel: 'dt (N-body time units)',
        logY: true,
        legend: false,
        width: 640,
        height: 260,
      }),
    ],
    { columns: 1, title },
  );
}

/**
 * Work–precision plot: max relative energy error against force evaluations, one marked line per
 * method, with the tolerance as a reference line.
 */
export function benchSvg(report: BenchReport, tolerance = 1e-4): string {
  const series: Series[] = report.methods.map((m) => {
    const pts = [...m.points].sort((a, b) => a.forceEvals - b.forceEvals);
    return {
      name: m.name,
      x: pts.map((p) => p.forceEvals),
      y: pts.map((p) => p.maxRelEnergyError),
    };
  });
  return lineChartSvg(series, {
    title: `${report.problem}: energy error to t = ${report.tEnd.toPrecision(4)} vs cost`,
    xLabel: 'force evaluations (per integration)',
    yLabel: 'max relative energy error |ΔE/E₀|',
    logX: true,
    logY: true,
    refLines: [{ axis: 'y', value: tolerance, label: `tolerance ${formatNumber(tolerance)}` }],
    width: 720,
    height: 460,
  });
}

/**
 * Step size along the orbit for several rules on the same problem (one line per rule, log dt
 * against time), with each rule's relative energy error on a second panel: where a learned rule
 * spends its steps compared with the time-symmetric rule at their operating points.
 */
export function dtAlongOrbitSvg(
  runs: readonly { name: string; result: IntegrateResult }[],
  title: string,
): string {
  const xLabel = 'time t (N-body time units)';
  const frames = runs.map((r) => ({ name: r.name, f: r.result.frames.slice(1) }));
  const series = (pick: (f: IntegrateResult['frames'][number]) => number): Series[] =>
    frames.map((r) => ({
      name: r.name,
      x: r.f.map((f) => f.t),
      y: r.f.map(pick),
      marker: 'none' as const,
    }));
  return panelsSvg(
    [
      lineChartSvg(
        series((f) => f.dt),
        {
          title: 'step size',
          xLabel,
          yLabel: 'dt (N-body time units)',
          logY: true,
          width: 720,
          height: 300,
        },
      ),
      lineChartSvg(
        series((f) => Math.max(f.relEnergyError, 1e-17)),
        {
          title: 'relative energy error',
          xLabel,
          yLabel: '|E(t) − E₀| / |E₀|',
          logY: true,
          width: 720,
          height: 300,
        },
      ),
    ],
    { columns: 1, title },
  );
}
