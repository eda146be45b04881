import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { Command } from '../command.js';
import { commands } from '../commands/index.js';

const scale = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  '..',
  'examples',
  'scale',
);

/** Shell words of one command line: quotes removed, `$VAR`, `${VAR…}` and `$(…)` replaced by `0`. */
function shellWords(line: string): string[] {
  const text = line
    .replace(/\$\([^)]*\)/g, '0')
    .replace(/\$\{[A-Za-z_][A-Za-z0-9_]*[^}]*\}/g, '0')
    .replace(/\$[A-Za-z_][A-Za-z0-9_]*/g, '0');
  const words: string[] = [];
  let cur: string | undefined;
  let quote: string | undefined;
  for (const ch of text) {
    if (quote !== undefined) {
      if (ch === quote) quote = undefined;
      else cur = (cur ?? '') + ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      cur = cur ?? '';
    } else if (/\s/.test(ch)) {
      if (cur !== undefined) words.push(cur);
      cur = undefined;
    } else cur = (cur ?? '') + ch;
  }
  if (quote !== undefined) throw new Error(`unbalanced quote in: ${line}`);
  if (cur !== undefined) words.push(cur);
  return words;
}

/** `runner …` command lines of a shell script (continuations joined, `exec` dropped). */
function scriptCommands(script: string): string[][] {
  return script
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.trim().replace(/^exec\s+/, ''))
    .filter((l) => l.startsWith('runner '))
    .map((l) => shellWords(l).slice(1));
}

function manifestCommands(text: string): string[][] {
  const out: string[][] = [];
  for (const doc of text.split(/^---$/m)) {
    const m = parseYaml(doc) as {
      spec: { template: { spec: { containers: { command: string[]; args?: string[] }[] } } };
    };
    for (const c of m.spec.template.spec.containers) {
      if (c.command[0] === 'runner') out.push([...c.command.slice(1), ...(c.args ?? [])]);
      else if (c.command.join(' ') === '/bin/sh -c') out.push(...scriptCommands(c.args?.[0] ?? ''));
    }
  }
  return out;
}

/** What `runner` would do with `argv` up to running it: the command, and its flags parsed strictly. */
function parseLikeRunner(argv: string[]): Command {
  const words: string[] = [];
  for (const a of argv) {
    if (a.startsWith('-')) break;
    words.push(a);
  }
  let cmd: Command | undefined;
  for (const c of commands)
    if (c.path.every((w, i) => words[i] === w) && c.path.length > (cmd?.path.length ?? 0)) cmd = c;
  if (cmd === undefined) throw new Error(`no such command: runner ${argv.join(' ')}`);
  const options = Object.fromEntries(
    Object.entries(cmd.options).map(([k, v]) => [
      k,
      { type: v.type, ...(v.multiple === true ? { multiple: true } : {}) },
    ]),
  );
  const { positionals } = parseArgs({
    args: argv.slice(cmd.path.length),
    options: { ...options, quiet: { type: 'boolean' }, debug: { type: 'boolean' } },
    allowPositionals: true,
    strict: true,
  });
  const { min, max } = cmd.positionals ?? { min: 0, max: 0 };
  if (positionals.length < min || positionals.length > max)
    throw new Error(
      `runner ${cmd.path.join(' ')}: ${positionals.length} arguments, expected ${min}..${max}`,
    );
  return cmd;
}

describe('examples/scale', () => {
  it('every runner command in the SLURM scripts, Kubernetes manifests and README parses', () => {
    const found: string[] = [];
    for (const f of readdirSync(scale).sort()) {
      const text = readFileSync(join(scale, f), 'utf8');
      const cmds = f.endsWith('.yaml')
        ? manifestCommands(text)
        : scriptCommands(f.endsWith('.md') ? text.replace(/^```.*$/gm, '') : text);
      for (const argv of cmds) {
        let cmd: Command;
        try {
          cmd = parseLikeRunner(argv);
        } catch (err) {
          throw new Error(`${f}: runner ${argv.join(' ')}: ${(err as Error).message}`, {
            cause: err,
          });
        }
        found.push(`${f}: ${cmd.path.join(' ')}`);
      }
    }
    for (const want of [
      'generate.slurm: operators generate',
      'merge.slurm: operators merge',
      'merge.slurm: operators replay',
      'sweep.slurm: sweep',
      'generate-job.yaml: operators generate',
      'merge-job.yaml: operators merge',
      'workers.yaml: worker',
      'README.md: queue operators generate',
      'README.md: queue sweep',
      'README.md: worker',
      'README.md: queue status',
    ])
      expect(found).toContain(want);
    // --shard auto is what the arrays rely on.
    const generate = readFileSync(join(scale, 'generate.slurm'), 'utf8');
    expect(scriptCommands(generate)[0]).toEqual(expect.arrayContaining(['--shard', 'auto']));
  });

  it('the sweep array size equals the number of sweep points', () => {
    const text = readFileSync(join(scale, 'sweep.slurm'), 'utf8');
    const [lo, hi] = (/#SBATCH --array=(\d+)-(\d+)/.exec(text) ?? []).slice(1).map(Number);
    const argv = scriptCommands(text)[0] as string[];
    const grid = argv.flatMap((a, i) => (argv[i - 1] === '--grid' ? [a] : []));
    const seeds = Number(argv[argv.indexOf('--seeds') + 1]);
    const points = grid
      .map((g) => g.slice(g.indexOf('=') + 1).split(/,(?![^[]*\])/).length)
      .reduce((a, b) => a * b, seeds);
    expect((hi as number) - (lo as number) + 1).toBe(points);
  });
});
