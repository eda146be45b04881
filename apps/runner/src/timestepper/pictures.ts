import { lineChartSvg, type Series } from '@x/logging';
import type { BenchReport, IntegrateResult } from '@x/timestepper';

/** Particle paths (x–y plane) of a recorded integration. */
export function orbitSvg(result: IntegrateResult, title: string): string {
  const first = result.frames[0];
  if (first === undefined) return lineChartSvg([], { title });
  const N = first.x.length / 3;
  const series: Series[] = [];
  for (let i = 0; i < N && i < 12; i++) {
    series.push({
      name: `body ${i}`,
      x: result.frames.map((f) => f.x[i * 3] as number),
      y: result.frames.map((f) => f.x[i * 3 + 1] as number),
    });
  }
  return lineChartSvg(series, { title, xLabel: 'x', yLabel: 'y', width: 480, height: 480 });
}

/** Relative energy error and step size along a recorded integration. */
export function energySvg(result: IntegrateResult, title: string): string {
  const frames = result.frames.slice(1);
  return lineChartSvg(
    [
      { name: '|ΔE/E0|', x: frames.map((f) => f.t), y: frames.map((f) => f.relEnergyError) },
      { name: 'dt', x: frames.map((f) => f.t), y: frames.map((f) => f.dt) },
    ],
    { title, xLabel: 't', logY: true },
  );
}

/** Work–precision plot: max relative energy error against force evaluations, one line per method. */
export function benchSvg(report: BenchReport): string {
  const series: Series[] = report.methods.map((m) => {
    const pts = [...m.points].sort((a, b) => a.forceEvals - b.forceEvals);
    return {
      name: m.name,
      x: pts.map((p) => p.forceEvals),
      y: pts.map((p) => p.maxRelEnergyError),
    };
  });
  return lineChartSvg(series, {
    title: `${report.problem}: max |ΔE/E0| to t = ${report.tEnd.toPrecision(4)} vs force evaluations`,
    xLabel: 'force evaluations',
    yLabel: 'max relative energy error',
    logX: true,
    logY: true,
    width: 720,
    height: 440,
  });
}
