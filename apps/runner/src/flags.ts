import { XError } from '@x/core';
import type { FlagValues } from './command.js';

/** A string flag's value (undefined when not given). */
export function str(values: FlagValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/** A string flag that must be given; `what` names the expected value in the message. */
export function requiredStr(values: FlagValues, name: string, what: string): string {
  const v = str(values, name);
  if (v === undefined) throw new XError('INVALID_INPUT', `--${name} <${what}> is required`);
  return v;
}

/** A repeatable string flag's values. */
export function list(values: FlagValues, name: string): string[] {
  const v = values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

/** An integer flag `>= min`; `fallback` when absent (absent and no fallback: required). */
export function int(values: FlagValues, name: string, min: number, fallback?: number): number {
  const v = optInt(values, name, min);
  if (v !== undefined) return v;
  if (fallback === undefined)
    throw new XError('INVALID_INPUT', `--${name} is required (an integer >= ${min})`);
  return fallback;
}

/** An integer flag `>= min`, or undefined when absent. */
export function optInt(values: FlagValues, name: string, min: number): number | undefined {
  const raw = str(values, name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isSafeInteger(n) || n < min)
    throw new XError('INVALID_INPUT', `--${name}: expected an integer >= ${min}, got '${raw}'`);
  return n;
}

/** A number flag passing `check` (`what` describes it), or undefined when absent. */
export function optNum(
  values: FlagValues,
  name: string,
  check: (n: number) => boolean,
  what: string,
): number | undefined {
  const raw = str(values, name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || !check(n))
    throw new XError('INVALID_INPUT', `--${name}: expected ${what}, got '${raw}'`);
  return n;
}

/** A positive number flag, or `fallback`. */
export function positive(values: FlagValues, name: string, fallback: number): number {
  return optNum(values, name, (n) => n > 0, 'a positive number') ?? fallback;
}

/** An enumerated flag (or `fallback`). */
export function oneOf<T extends string>(
  values: FlagValues,
  name: string,
  choices: readonly T[],
  fallback: T,
): T {
  const raw = str(values, name) ?? fallback;
  if (!(choices as readonly string[]).includes(raw))
    throw new XError(
      'INVALID_INPUT',
      `--${name}: expected one of ${choices.join(', ')}, got '${raw}'`,
    );
  return raw as T;
}

/** The current UTC time as `20260102T030405Z` (default run-directory names). */
export function timestamp(date: Date = new Date()): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}
