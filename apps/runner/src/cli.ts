import { parseArgs } from 'node:util';
import { XError, exitCodeFor, toXError } from '@x/core';
import type { Command, Output } from './command.js';

const GLOBAL_FLAGS = {
  help: { type: 'boolean', short: 'h' },
  debug: { type: 'boolean' },
  quiet: { type: 'boolean' },
} as const;

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

function flagHelp(cmd: Command): string {
  const lines = Object.entries(cmd.options).map(([name, spec]) => {
    const arg = spec.type === 'string' ? ` <${name}>` : '';
    return `  --${name}${arg}${spec.multiple === true ? ' (repeatable)' : ''}`;
  });
  return lines.join('\n');
}

function commandHelp(cmd: Command): string {
  return [
    `Usage: runner ${cmd.path.join(' ')} ${cmd.usage}`.trimEnd(),
    '',
    cmd.summary,
    cmd.help === undefined ? '' : `\n${cmd.help}`,
    '',
    'Flags:',
    flagHelp(cmd),
    '  --debug            show stack traces on errors',
    '  --help, -h         show this help',
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
    const group = commands.some((c) => c.path[0] === words[0]);
    io.stderr(
      group
        ? `runner: '${words.join(' ')}' is not a command.\n${listing(commands, words.slice(0, 1))}`
        : `runner: unknown command '${words[0] ?? ''}'. Run 'runner --help' for the list.\n`,
    );
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
        options: { ...GLOBAL_FLAGS, ...cmd.options },
        allowPositionals: true,
        strict: true,
      });
    } catch (err) {
      throw new XError(
        'INVALID_INPUT',
        `${(err as Error).message.replace(/\. To specify a positional.*$/s, '')}\nUsage: runner ${cmd.path.join(' ')} ${cmd.usage}`,
        { cause: err },
      );
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
