import { toExtendedJson } from './extJson.js';
import type { SummarySource } from './uploader.js';

/** The run summary: the last value of every key, plus `_step`, `_runtime` and `_timestamp`. */
export class Summary implements SummarySource {
  values: Record<string, unknown> = {};
  #version = 0;
  #sent = 0;

  update(values: Record<string, unknown>): void {
    Object.assign(this.values, values);
    this.#version++;
  }

  replace(values: Record<string, unknown>): void {
    this.values = { ...values };
    this.#version++;
  }

  get dirty(): boolean {
    return this.#version !== this.#sent;
  }

  line(): string {
    return toExtendedJson(this.values);
  }

  take(): { line: string; version: number } | undefined {
    return this.dirty ? { line: this.line(), version: this.#version } : undefined;
  }

  sent(version: number): void {
    this.#sent = Math.max(this.#sent, version);
  }
}
