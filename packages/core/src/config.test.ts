import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { spawnSync } from 'node:child_process';
import {
  MAX_CONFIG_BYTES,
  applyOverrides,
  loadYamlFile,
  parseConfig,
  parseYaml,
  resolveConfig,
} from './config.js';
import { isXError } from './errors.js';

const schema = z.strictObject({
  seed: z.number().int().nonnegative(),
  train: z.strictObject({
    lr: z.number().positive(),
    batch: z.number().int().positive(),
    name: z.string(),
  }),
  mode: z.enum(['fast', 'slow']),
});
const defaults = { seed: 0, train: { lr: 0.001, batch: 8, name: 'x' }, mode: 'fast' };

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(isXError(err, 'INVALID_CONFIG')).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

describe('config', () => {
  it('formats problems with dotted paths and the offending value', () => {
    const m = message(() =>
      parseConfig(schema, { ...defaults, train: { ...defaults.train, batch: -3 } }, 'run.yaml'),
    );
    expect(m).toBe('invalid config in run.yaml: train.batch: expected positive integer, got -3');
    expect(message(() => parseConfig(schema, { ...defaults, mode: 'medium' }))).toContain(
      'mode: expected one of "fast" | "slow", got "medium"',
    );
    expect(
      message(() => parseConfig(schema, { ...defaults, train: { ...defaults.train, lr: 'big' } })),
    ).toContain('train.lr: expected number, got "big"');
  });

  it('rejects unknown keys by name', () => {
    const m = message(() =>
      parseConfig(schema, { ...defaults, train: { ...defaults.train, lrr: 1 } }),
    );
    expect(m).toContain('train.lrr: unknown key');
  });

  it('applies dotted --set overrides with YAML typing', () => {
    const out = applyOverrides(defaults, [
      'train.lr=3e-4',
      'train.name="007"',
      'seed=5',
      'mode=slow',
    ]) as typeof defaults;
    expect(out).toEqual({ seed: 5, train: { lr: 3e-4, batch: 8, name: '007' }, mode: 'slow' });
    expect(defaults.seed).toBe(0);
    expect(message(() => applyOverrides(defaults, ['novalue']))).toContain(
      'expected dotted.key=value',
    );
  });

  it('loads YAML safely and reports file, line and column', () => {
    expect(message(() => parseYaml('a: 1\na: 2\n', 'c.yaml'))).toMatch(/^c\.yaml:2:1: /);
    expect(
      message(() => parseYaml('a: !!js/function "function(){ throw 1 }"\n', 'c.yaml')),
    ).toMatch(/^c\.yaml:1:4: Unresolved tag/);
    expect(message(() => parseYaml('a: [1, 2\n', 'c.yaml'))).toMatch(/^c\.yaml:\d+:\d+: /);
    expect(parseYaml('x: [1, 2]\n')).toEqual({ x: [1, 2] });
  });

  it('resolves defaults + file + --set, validated once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const file = join(dir, 'run.yaml');
    writeFileSync(file, 'train:\n  batch: 16\n');
    const cfg = resolveConfig({ schema, defaults, file, sets: ['train.lr=0.1'] });
    expect(cfg.train).toEqual({ lr: 0.1, batch: 16, name: 'x' });
    writeFileSync(file, 'train:\n  batch: 0\n');
    expect(message(() => resolveConfig({ schema, defaults, file }))).toContain(
      `in ${file}: train.batch: expected positive integer, got 0`,
    );
  });
});

describe('bounded config input', () => {
  const dir = mkdtempSync(join(tmpdir(), 'core-bounded-'));
  const fails = (path: string, pattern: RegExp) => {
    let caught: unknown;
    try {
      loadYamlFile(path);
    } catch (err) {
      caught = err;
    }
    expect(isXError(caught), String(caught)).toBe(true);
    expect((caught as Error).message).toMatch(pattern);
    expect((caught as Error).message).toContain(path);
    return caught as Error;
  };

  it('refuses devices, FIFOs, directories and oversized files at once (fstat before reading)', () => {
    fails('/dev/zero', /a device, not a regular file/);
    const fifo = join(dir, 'fifo.yaml');
    if (spawnSync('mkfifo', [fifo]).status === 0) fails(fifo, /a FIFO, not a regular file/);
    fails(dir, /a directory, not a regular file/);
    const big = join(dir, 'big.yaml');
    writeFileSync(big, `a: "${'x'.repeat(MAX_CONFIG_BYTES)}"\n`);
    fails(big, /more than the \d+ allowed/);
    expect(isXError(fails(join(dir, 'none.yaml'), /no such file/), 'NOT_FOUND')).toBe(true);
  });

  it('caps YAML alias expansion and nesting with a named error', () => {
    const bomb = join(dir, 'bomb.yaml');
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 10; i++) {
      const p = String.fromCharCode(97 + i - 1);
      const q = String.fromCharCode(97 + i);
      lines.push(`${q}: &${q} [*${p},*${p},*${p},*${p},*${p},*${p},*${p},*${p},*${p},*${p}]`);
    }
    writeFileSync(bomb, `${lines.join('\n')}\n`);
    expect(isXError(fails(bomb, /aliases expand to more than 100/), 'INVALID_CONFIG')).toBe(true);
    const deep = join(dir, 'deep.yaml');
    writeFileSync(deep, `a: ${'['.repeat(5000)}${']'.repeat(5000)}\n`);
    fails(deep, /nested (more than 64 levels deep|too deeply)/);
    const bin = join(dir, 'bin.yaml');
    writeFileSync(bin, Buffer.from([0xff, 0xfe, 0x00, 0x41]));
    fails(bin, /not UTF-8/);
  });
});
