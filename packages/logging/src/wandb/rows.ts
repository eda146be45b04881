import { rowJson } from './extJson.js';
import type { Summary } from './summary.js';

interface PendingRow {
  step: number;
  time: number;
  values: Record<string, unknown>;
  /** True once `values` is the assembler's own copy (safe to merge into). */
  owned?: boolean;
}

/** Where assembled rows go. */
export interface RowOutput {
  /** Unix seconds that `_runtime` counts from. */
  t0: number;
  summary: Summary;
  push: (line: string) => void;
  notify: (level: 'info' | 'warn' | 'error', message: string) => void;
}

/**
 * Assembles W&B history rows with W&B's step rules: values for one step merge into one row,
 * which is emitted (`_step`, `_runtime`, `_timestamp` added) when a later step arrives or on
 * `commit()`. Data for an earlier step is not dropped: it becomes its own row, with a notice.
 */
export class RowAssembler {
  readonly #o: RowOutput;
  #pending: PendingRow | undefined;
  #lastStep = -Infinity;
  #lateNoticed = false;

  constructor(output: RowOutput) {
    this.#o = output;
  }

  /** The row still being assembled, if any. */
  get pending(): { step: number; values: Readonly<Record<string, unknown>> } | undefined {
    return this.#pending;
  }

  add(step: number, time: number, values: Record<string, unknown>): void {
    const p = this.#pending;
    if (p !== undefined && step === p.step) {
      if (p.owned !== true) {
        p.values = { ...p.values };
        p.owned = true;
      }
      Object.assign(p.values, values);
      return;
    }
    if (p !== undefined && step < p.step) {
      this.#late(step, p.step);
      this.#emit({ step, time, values });
      return;
    }
    if (p !== undefined) this.#emit(p);
    this.#pending = undefined;
    if (step <= this.#lastStep) {
      this.#late(step, this.#lastStep);
      this.#emit({ step, time, values });
      return;
    }
    this.#pending = { step, time, values };
  }

  /** Emits the row being assembled. */
  commit(): void {
    if (this.#pending !== undefined) this.#emit(this.#pending);
    this.#pending = undefined;
  }

  #emit(row: PendingRow): void {
    const tail = {
      _step: row.step,
      _runtime: Math.max(0, row.time - this.#o.t0),
      _timestamp: row.time,
    };
    this.#o.push(rowJson(row.values, tail));
    this.#o.summary.update(row.values);
    this.#o.summary.update(tail);
    this.#lastStep = Math.max(this.#lastStep, row.step);
  }

  #late(step: number, current: number): void {
    if (this.#lateNoticed) return;
    this.#lateNoticed = true;
    this.#o.notify(
      'warn',
      `wandb: data for step ${step} arrived after step ${current}; sent as its own history row (further cases not reported)`,
    );
  }
}
