import { readFileSync } from 'node:fs';
import { isXError } from '@x/core';
import { describe, expect, it } from 'vitest';
import {
  REMOVED_LOGGING_KEYS,
  defaultLoggingConfig,
  loadLoggingConfigYaml,
  loggingPreset,
  parseLoggingConfig,
} from './config.js';

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    expect(isXError(e, 'INVALID_CONFIG')).toBe(true);
    return e as Error;
  }
  throw new Error('expected an INVALID_CONFIG error');
}

describe('logging config', () => {
  it('has defaults for everything', () => {
    const c = defaultLoggingConfig();
    expect(c.lowerStep).toBe('warn');
    expect(c.batched).toMatchObject({ logFrequency: 10, numSamples: 3, sampleFrequency: 50 });
    expect(c.sinks.jsonl.every).toEqual({ steps: 100, seconds: 5 });
    expect(c.wandb).toBeUndefined();
  });

  it('ships a batched.yaml preset that validates', () => {
    const c = loggingPreset('batched');
    expect(c.batched).toMatchObject({
      enabled: true,
      logFrequency: 10,
      numSamples: 3,
      sampleFrequency: 50,
      histograms: true,
    });
    expect(c.sinks.svg.charts).toEqual(['batch/*']);
    const text = readFileSync(new URL('../presets/batched.yaml', import.meta.url), 'utf8');
    expect(loadLoggingConfigYaml(text)).toEqual(c);
  });

  it('rejects each removed async key by name, top level and in batched', () => {
    for (const key of REMOVED_LOGGING_KEYS) {
      const msg = errorOf(() => parseLoggingConfig({ [key]: 1 })).message;
      expect(msg).toContain(`logging.${key}: '${key}' was removed`);
      const nested = errorOf(() => parseLoggingConfig({ batched: { [key]: 1 } })).message;
      expect(nested).toContain(`logging.batched.${key}`);
    }
    const fromYaml = errorOf(() =>
      loadLoggingConfigYaml('batched:\n  flush_interval: 2\n', 'run.yaml'),
    ).message;
    expect(fromYaml).toMatch(
      /run\.yaml.*logging\.batched\.flush_interval: 'flush_interval' was removed/,
    );
  });

  it('rejects non-positive frequencies and sample counts, and unknown keys', () => {
    expect(errorOf(() => parseLoggingConfig({ batched: { logFrequency: 0 } })).message).toContain(
      'logging.batched.logFrequency: expected positive number, got 0',
    );
    expect(
      errorOf(() => parseLoggingConfig({ batched: { sampleFrequency: -5 } })).message,
    ).toContain('logging.batched.sampleFrequency');
    expect(errorOf(() => parseLoggingConfig({ batched: { numSamples: 0 } })).message).toContain(
      'logging.batched.numSamples',
    );
    expect(
      errorOf(() => parseLoggingConfig({ sinks: { jsonl: { every: { steps: 0 } } } })).message,
    ).toContain('logging.sinks.jsonl.every.steps');
    expect(errorOf(() => parseLoggingConfig({ sinks: { tb: {} } })).message).toContain(
      'logging.sinks.tb: unknown key',
    );
    expect(errorOf(() => parseLoggingConfig({ lowerStep: 'ignore' })).message).toContain(
      'logging.lowerStep',
    );
  });

  it('leaves the wandb section to the W&B sink', () => {
    expect(parseLoggingConfig({ wandb: { enabled: true, project: 'p' } }).wandb).toEqual({
      enabled: true,
      project: 'p',
    });
  });
});
