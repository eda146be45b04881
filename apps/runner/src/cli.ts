import { parseArgs } from 'node:util';
import { XError, exitCodeFor, suggest, toXError } from '@x/core';
import type { Command, FlagDef, FlagSpec, Output } from './command.js';

const GLOBAL_FLAGS: FlagSpec = {
  quiet: { type: 'boolean', description: 'no live console view; errors still go to stderr' },
  debug: { type: 'boolean', description: 'show stack traces on errors' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
};

/** Streams the CLI writes to (replaceable in tests). */
export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  cwd: string;
  signal?: AbortSignal;
}

const defaultIO: CliIO = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  cwd: process.env['INIT_CWD'] ?? process.cwd(),
};

function findCommand(commands: readonly Command[], words: string[]): Command | undefined {
  let best: Command | undefined;
  for (const c of commands) {
    if (c.path.length <= words.length && c.path.every((w, i) => words[i] === w)) {
      if (best === undefined || c.path.length > best.path.length) best = c;
    }
  }
  return best;
}

function flagLabel(name: string, def: FlagDef): string {
  const short = def.short === undefined ? '' : `, -${def.short}`;
  return `--${name}${short}${def.type === 'string' ? ` <${def.arg ?? name}>` : ''}`;
}

function flagLine(name: string, def: FlagDef): string {
  const notes = [
    def.description ?? '',
    def.default === undefined ? '' : `(default ${def.default})`,
    def.multiple === true ? '(repeatable)' : '',
  ]
    .filter((s) => s !== '')
    .join(' ');
  const label = `  ${flagLabel(name, def)}`;
  if (notes === '') return label;
  return label.length < 30 ? `${label.padEnd(30)} ${notes}` : `${label}\n${' '.repeat(31)}${notes}`;
}

function allFlags(cmd: Command): FlagSpec {
  return { ...GLOBAL_FLAGS, ...cmd.options };
}

/** What the flags shared by many commands mean (CONTRACT: flags common to every train command). */
const COMMON_FLAGS: Record<string, Pick<FlagDef, 'arg' | 'description' | 'default'>> = {
  backend: {
    arg: 'auto|tensorflow|webgpu|wasm|cpu',
    description: 'tensor backend (env X_BACKEND)',
    default: 'auto',
  },
  threads: {
    arg: 'n',
    description: 'CPU threads for the wasm backend (env X_THREADS)',
    default: 'all cores',
  },
  config: { arg: 'file.yaml', description: 'config file (embedded defaults otherwise)' },
  set: { arg: 'dotted.key=value', description: 'override one config value' },
  seed: { arg: 'n', description: "the run's root seed" },
  'allow-env-mismatch': {
    description: "go on even if backend or library versions differ from the file's",
  },
};

const HELP_FLAG_LINE = /^ {2,}(--[\w-]+(?:, --[\w-]+)*)(?: (<[^>]*>))?\s+(\S.*)$/;

/**
 * A command's flags with what `--help` says about each, and its prose. A flag's description is
 * its own, else the one a `  --flag <arg>   text` line of the command's help gives (such lines
 * leave the prose, so each flag is listed once), else the common one.
 */
export function describeFlags(cmd: Command): { flags: [string, FlagDef][]; prose: string } {
  const fromHelp = new Map<string, { arg?: string; description: string }>();
  const prose: string[] = [];
  for (const line of (cmd.help ?? '').split('\n')) {
    const m = HELP_FLAG_LINE.exec(line);
    const names = m?.[1]?.split(', ').map((n) => n.slice(2)) ?? [];
    if (m === null || !names.every((n) => n in cmd.options || n in GLOBAL_FLAGS)) {
      prose.push(line);
      continue;
    }
    const arg = m[2]?.startsWith('<') === true ? m[2].slice(1, -1) : undefined;
    for (const n of names)
      fromHelp.set(n, { ...(arg === undefined ? {} : { arg }), description: m[3] ?? '' });
  }
  const merged = (n: string, def: FlagDef): FlagDef => {
    const h = fromHelp.get(n);
    const c = COMMON_FLAGS[n];
    return {
      ...def,
      arg: def.arg ?? h?.arg ?? c?.arg,
      description: def.description ?? h?.description ?? c?.description,
      default: def.default ?? (h === undefined ? c?.default : undefined),
    };
  };
  const own = Object.entries(cmd.options)
    .filter(([n]) => !(n in GLOBAL_FLAGS))
    .map(([n, def]): [string, FlagDef] => [n, merged(n, def)]);
  const global = Object.entries(GLOBAL_FLAGS).map(([n, def]): [string, FlagDef] => [
    n,
    merged(n, { ...def, ...cmd.options[n] }),
  ]);
  return { flags: [...own, ...global], prose: prose.join('\n').trim() };
}

function commandHelp(cmd: Command): string {
  const { flags, prose } = describeFlags(cmd);
  return [
    `Usage: runner ${cmd.path.join(' ')} ${cmd.usage}`.trimEnd(),
    '',
    cmd.summary,
    ...(prose === '' ? [] : ['', prose]),
    '',
    'Flags:',
    ...flags.map(([n, def]) => flagLine(n, def)),
    '',
  ].join('\n');
}

function listing(commands: readonly Command[], prefix: string[]): string {
  const rows = commands
    .filter((c) => prefix.every((w, i) => c.path[i] === w))
    .map((c) => `  runner ${c.path.join(' ').padEnd(22)} ${c.summary}`);
  return [
    'Usage: runner <command> [flags]',
    '',
    'Commands:',
    ...rows,
    '',
    'Exit codes: 0 success, 1 a check failed, 2 bad input, 3 internal error.',
    "Run 'runner <command> --help' for a command's flags.",
    '',
  ].join('\n');
}

function didYouMean(word: string, candidates: Iterable<string>, show = (s: string) => s): string {
  const s = suggest(word, candidates);
  return s === undefined ? '' : ` (did you mean ${show(s)}?)`;
}

function unknownCommand(commands: readonly Command[], words: string[]): string {
  const first = words[0] ?? '';
  const groups = [...new Set(commands.map((c) => c.path[0] as string))];
  if (!groups.includes(first)) {
    return `runner: unknown command '${first}'${didYouMean(first, groups, (s) => `'runner ${s}'`)}. Run 'runner --help' for the list.\n`;
  }
  const sub = commands.filter((c) => c.path[0] === first && c.path.length > 1);
  const hint = didYouMean(
    words.slice(1).join(' '),
    sub.map((c) => c.path.slice(1).join(' ')),
    (s) => `'runner ${first} ${s}'`,
  );
  return `runner: '${words.join(' ')}' is not a command${hint}.\n${listing(commands, [first])}`;
}

function parseError(err: unknown, cmd: Command): XError {
  const e = err as Error & { code?: string };
  const usage = `Usage: runner ${cmd.path.join(' ')} ${cmd.usage}\nRun 'runner ${cmd.path.join(' ')} --help' for its flags.`;
  const unknown = /^Unknown option '(-{1,2})([^']*)'/.exec(e.message);
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown !== null) {
    const flag = `${unknown[1] ?? ''}${unknown[2] ?? ''}`;
    const hint = didYouMean(unknown[2] ?? '', Object.keys(allFlags(cmd)), (s) => `--${s}`);
    return new XError('INVALID_INPUT', `unknown flag '${flag}'${hint}\n${usage}`, { cause: err });
  }
  return new XError(
    'INVALID_INPUT',
    `${e.message.replace(/\. To specify a positional.*$/s, '')}\n${usage}`,
    { cause: err },
  );
}

function parseOptions(spec: FlagSpec): NonNullable<Parameters<typeof parseArgs>[0]>['options'] {
  const out: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> =
    {};
  for (const [name, def] of Object.entries(spec)) {
    out[name] = {
      type: def.type,
      ...(def.short === undefined ? {} : { short: def.short }),
      ...(def.multiple === undefined ? {} : { multiple: def.multiple }),
    };
  }
  return out;
}

/**
 * Runs the CLI over `argv` (without node and script) and returns the exit code. Errors become
 * one-paragraph messages; stack traces only with `--debug`.
 */
export async function runCli(
  commands: readonly Command[],
  argv: string[],
  io: CliIO = defaultIO,
): Promise<number> {
  const debug = argv.includes('--debug');
  const quiet = argv.includes('--quiet');
  const wantsHelp = argv.includes('--help') || argv.includes('-h');
  const words: string[] = [];
  for (const a of argv) {
    if (a.startsWith('-')) break;
    words.push(a);
  }
  const cmd = findCommand(commands, words);
  if (cmd === undefined) {
    if (words.length === 0 || wantsHelp) {
      const prefix = commands.some((c) => c.path[0] === words[0]) ? words.slice(0, 1) : [];
      io.stdout(listing(commands, prefix));
      return 0;
    }
    io.stderr(unknownCommand(commands, words));
    return 2;
  }
  if (wantsHelp) {
    io.stdout(commandHelp(cmd));
    return 0;
  }
  const out: Output = {
    line: (t) => io.stdout(`${t}\n`),
    info: (t) => {
      if (!quiet) io.stderr(`${t}\n`);
    },
    warn: (t) => io.stderr(`warning: ${t}\n`),
  };
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv.slice(cmd.path.length),
        options: parseOptions(allFlags(cmd)),
        allowPositionals: true,
        strict: true,
      });
    } catch (err) {
      throw parseError(err, cmd);
    }
    const { min, max } = cmd.positionals ?? { min: 0, max: 0 };
    const n = parsed.positionals.length;
    if (n < min || n > max) {
      const what =
        n < min ? 'missing argument' : `unexpected argument '${parsed.positionals[max] ?? ''}'`;
      throw new XError(
        'INVALID_INPUT',
        `${what}\nUsage: runner ${cmd.path.join(' ')} ${cmd.usage}`,
      );
    }
    const code = await cmd.run({
      values: parsed.values,
      positionals: parsed.positionals,
      out,
      debug,
      quiet,
      cwd: io.cwd,
      signal: io.signal ?? new AbortController().signal,
    });
    return code ?? 0;
  } catch (err) {
    const x = toXError(err);
    const exit = exitCodeFor(x.code);
    const kind = exit === 3 ? 'internal error' : exit === 1 ? 'check failed' : 'error';
    io.stderr(`runner ${cmd.path.join(' ')}: ${kind}: ${x.message}\n`);
    if (debug) io.stderr(`${(err as Error).stack ?? String(err)}\n`);
    else if (exit === 3) io.stderr('(run again with --debug for the stack trace)\n');
    return exit;
  }
}
