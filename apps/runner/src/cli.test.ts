import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XError } from '@x/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { describeFlags, runCli } from './cli.js';
import type { Command } from './command.js';
import { commands } from './commands/index.js';
import { commandSources, type CommandSource } from './commands/sources.js';
import { buildManifest, lazyCommands } from './manifest.js';
import { resolveTrainSetup, runFieldsSchema, trainFlags } from './runSetup.js';
import { memoryIO as io, runRunner } from './testkit.js';

const schema = z.strictObject({
  ...runFieldsSchema,
  model: z.strictObject({ width: z.number().int().positive() }),
});
const defaults = { seed: 0, steps: 10, saveEvery: 5, model: { width: 8 } };
let lastConfig: unknown;
const fake: Command[] = [
  {
    path: ['toy', 'train'],
    summary: 'train a toy',
    usage: '[flags]',
    options: {
      ...trainFlags,
      set: {
        type: 'string',
        multiple: true,
        arg: 'dotted.key=value',
        description: 'override one config value',
      },
      'save-every': {
        type: 'string',
        arg: 'n',
        description: 'checkpoint cadence in steps (a final checkpoint is always written)',
        default: '5',
      },
    },
    run(ctx) {
      const setup = resolveTrainSetup(ctx, 'toy', schema, defaults);
      setup.lock.release();
      lastConfig = { ...setup, config: setup.config };
      return Promise.resolve(0);
    },
  },
  {
    path: ['boom'],
    summary: 'fails',
    usage: '',
    options: {},
    run: () => Promise.reject(new Error('kaput')),
  },
  {
    path: ['check'],
    summary: 'check',
    usage: '',
    options: {},
    run: () => Promise.reject(new XError('INTEGRITY', 'mismatch at 3')),
  },
];

describe('runner CLI', () => {
  it('lists commands and shows per-command help', async () => {
    const a = io();
    expect(await runCli(fake, ['--help'], a)).toBe(0);
    expect(a.out).toContain('runner toy train');
    const b = io();
    expect(await runCli(fake, ['toy', 'train', '--help'], b)).toBe(0);
    expect(b.out).toMatch(/--save-every <n> +checkpoint cadence in steps .*\(default 5\)/);
    expect(b.out).toMatch(/--set <dotted.key=value> +override one config value \(repeatable\)/);
    for (const flag of ['--save-every <', '--quiet', '--debug', '--help'])
      expect(b.out.split(flag).length - 1, flag).toBe(1);
  });

  it('suggests the closest command or flag', async () => {
    const a = io();
    expect(await runCli(fake, ['tyo', 'train'], a)).toBe(2);
    expect(a.err).toContain("unknown command 'tyo' (did you mean 'runner toy'?)");
    const b = io();
    expect(await runCli(fake, ['toy', 'trian'], b)).toBe(2);
    expect(b.err).toContain("'toy trian' is not a command (did you mean 'runner toy train'?)");
    const c = io();
    expect(await runCli(fake, ['toy', 'train', '--save-evry', '3'], c)).toBe(2);
    expect(c.err).toContain("unknown flag '--save-evry' (did you mean --save-every?)");
    const d = io();
    expect(await runCli(fake, ['toy', 'train', '--zzzzzz'], d)).toBe(2);
    expect(d.err).toContain("unknown flag '--zzzzzz'\n");
  });

  it('answers help and flag errors from the manifest and loads a module only to run', async () => {
    let loads = 0;
    const sources: CommandSource[] = [
      {
        name: 'toy',
        load: () => {
          loads++;
          return Promise.resolve({ fake });
        },
      },
    ];
    const manifest = await buildManifest(fake, sources);
    loads = 0;
    const lazy = lazyCommands(JSON.parse(JSON.stringify(manifest)) as typeof manifest, sources);
    const a = io();
    expect(await runCli(lazy, ['toy', 'train', '--help'], a)).toBe(0);
    expect(a.out).toContain('--save-every <n>');
    expect(await runCli(lazy, ['toy', 'train', '--stepz', '1'], io())).toBe(2);
    expect(loads).toBe(0);
    const b = io();
    expect(await runCli(lazy, ['check'], b)).toBe(1);
    expect(b.err).toContain('mismatch at 3');
    expect(loads).toBe(1);
    await expect(buildManifest(fake, [])).rejects.toThrow(/no entry of commands\/sources.ts/);
  });

  it('knows where every runner command lives, and says what every flag means', async () => {
    const manifest = await buildManifest(commands, commandSources);
    expect(manifest.commands.map((c) => c.path.join(' '))).toEqual(
      commands.map((c) => c.path.join(' ')),
    );
    const missing = commands.flatMap((c) =>
      describeFlags(c)
        .flags.filter(([, def]) => def.description === undefined || def.description === '')
        .map(([name]) => `${c.path.join(' ')} --${name}`),
    );
    expect(missing).toEqual([]);
  });

  it('lists a flag documented in the help prose once, with its text', () => {
    const cmd: Command = {
      path: ['x'],
      summary: 's',
      usage: '',
      help: '  --limit <n>        use only the first n puzzles\n  --backend <b>      tensor backend\nConfig keys: a.b',
      options: { limit: { type: 'string' }, backend: { type: 'string' }, seed: { type: 'string' } },
      run: () => Promise.resolve(0),
    };
    const { flags, prose } = describeFlags(cmd);
    expect(prose).toBe('Config keys: a.b');
    expect(Object.fromEntries(flags.map(([n, d]) => [n, [d.arg, d.description]]))).toMatchObject({
      limit: ['n', 'use only the first n puzzles'],
      backend: ['b', 'tensor backend'],
      seed: ['n', "the run's root seed"],
    });
  });

  it('maps errors to the contract exit codes without stack traces', async () => {
    const a = io();
    expect(await runCli(fake, ['nope'], a)).toBe(2);
    expect(a.err).toContain("unknown command 'nope'");
    const b = io();
    expect(await runCli(fake, ['toy', 'train', '--stepz', '3'], b)).toBe(2);
    expect(b.err).toContain("unknown flag '--stepz' (did you mean --steps?)");
    const c = io();
    expect(await runCli(fake, ['boom'], c)).toBe(3);
    expect(c.err).not.toContain('    at ');
    const d = io();
    expect(await runCli(fake, ['boom', '--debug'], d)).toBe(3);
    expect(d.err).toContain('    at ');
    expect(await runCli(fake, ['check'], io())).toBe(1);
  });

  it('resolves defaults, --config, --set and flags, and writes config.yaml', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runner-'));
    writeFileSync(join(dir, 'c.yaml'), 'model:\n  width: 16\n');
    const a = io(dir);
    const code = await runCli(
      fake,
      ['toy', 'train', '--config', 'c.yaml', '--set', 'steps=20', '--seed', '7', '--out', 'r1'],
      a,
    );
    expect(a.err).toBe('');
    expect(code).toBe(0);
    expect((lastConfig as { config: unknown }).config).toMatchObject({
      seed: 7,
      steps: 20,
      saveEvery: 5,
      model: { width: 16 },
    });
    expect(readFileSync(join(dir, 'r1', 'config.yaml'), 'utf8')).toContain('width: 16');
  });

  it('rejects bad config with the key path and exit code 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runner-'));
    const a = io(dir);
    expect(await runCli(fake, ['toy', 'train', '--set', 'model.width=-3', '--out', 'r'], a)).toBe(
      2,
    );
    expect(a.err).toContain('model.width: expected positive integer, got -3');
    const b = io(dir);
    expect(await runCli(fake, ['toy', 'train', '--set', 'model.depth=3', '--out', 'r'], b)).toBe(2);
    expect(b.err).toContain('model.depth: unknown key');
    const e = io(dir);
    expect(await runCli(fake, ['toy', 'train', '--set', 'model.widht=3', '--out', 'r'], e)).toBe(2);
    expect(e.err).toContain("model.widht: unknown key (did you mean 'model.width'?)");
    const c = io(dir);
    expect(await runCli(fake, ['toy', 'train', '--config', 'missing.yaml'], c)).toBe(2);
    expect(c.err).toContain('missing.yaml');
    const d = io(dir);
    expect(await runCli(fake, ['toy', 'train', '--backend', 'gpu'], d)).toBe(2);
    expect(d.err).toMatch(/--backend: expected one of auto, tensorflow, .*cpu, got 'gpu'/);
  });

  it('keeps a resumed run on its own config', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runner-'));
    expect(
      await runCli(fake, ['toy', 'train', '--out', 'r', '--set', 'model.width=4'], io(dir)),
    ).toBe(0);
    const a = io(dir);
    expect(await runCli(fake, ['toy', 'train', '--resume', 'r', '--steps', '30'], a)).toBe(0);
    expect(lastConfig).toMatchObject({ resume: true, config: { steps: 30, model: { width: 4 } } });
    const b = io(dir);
    expect(await runCli(fake, ['toy', 'train', '--resume', 'r', '--set', 'model.width=5'], b)).toBe(
      2,
    );
    expect(b.err).toContain('--set cannot be combined with --resume');
  });

  it('runs as a real process with contract exit codes', () => {
    const help = runRunner(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('runner doctor');
    const bad = runRunner(['doctor', '--bogus']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown flag '--bogus'");
    expect(bad.stderr).not.toContain('    at ');
  });
});
