import { ExperimentLogger, consoleSink } from '@x/logging';

/**
 * A console-only logger for progress of work that has no run directory (sampling, generation,
 * replay, benchmarks): the same live view as training on a TTY, one plain line per second
 * otherwise, nothing but errors with `quiet`. Log with `step` = items done; close when done.
 */
export function progressView(o: {
  label: string;
  total: number;
  quiet: boolean;
  /** Items already done (a resumed or partial run). */
  start?: number;
}): ExperimentLogger {
  return new ExperimentLogger({
    run: {
      runDir: '',
      pipeline: o.label,
      config: {},
      totalSteps: o.total,
      startStep: o.start ?? 0,
      resumed: false,
    },
    sinks: [{ sink: consoleSink({ quiet: o.quiet }), every: { seconds: 1 } }],
  });
}
