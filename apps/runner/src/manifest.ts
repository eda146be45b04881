import { readFileSync } from 'node:fs';
import { XError } from '@x/core';
import type { Command } from './command.js';
import type { CommandSource } from './commands/sources.js';

/** A command as the built runner's manifest holds it: everything but `run`, and where it lives. */
export type CommandSpec = Omit<Command, 'run'> & { source: string };

/** The manifest file: written beside the built `bin.js` by `pnpm build`. */
export interface CommandManifest {
  version: 1;
  commands: CommandSpec[];
}

function isCommand(v: unknown): v is Command {
  const c = v as Partial<Command> | null;
  return (
    typeof c === 'object' && c !== null && Array.isArray(c.path) && typeof c.run === 'function'
  );
}

/** The commands a module exports (as values or arrays of values), each once. */
export function commandsOf(mod: Record<string, unknown>): Command[] {
  const found = new Map<string, Command>();
  for (const v of Object.values(mod)) {
    for (const c of Array.isArray(v) ? (v as unknown[]) : [v]) {
      if (isCommand(c)) found.set(c.path.join(' '), c);
    }
  }
  return [...found.values()];
}

/**
 * Builds the manifest of `commands` (in their order), naming for each the source module that
 * defines it. Throws when a command has no source.
 */
export async function buildManifest(
  commands: readonly Command[],
  sources: readonly CommandSource[],
): Promise<CommandManifest> {
  const where = new Map<string, string>();
  for (const s of sources) {
    for (const c of commandsOf(await s.load())) where.set(c.path.join(' '), s.name);
  }
  const specs = commands.map((cmd) => {
    const spec: Omit<Command, 'run'> & { run?: unknown } = { ...cmd };
    delete spec.run;
    const source = where.get(spec.path.join(' '));
    if (source === undefined)
      throw new XError(
        'INTERNAL',
        `command '${spec.path.join(' ')}' is in commands/index.ts but no entry of commands/sources.ts defines it`,
      );
    return { ...structuredClone(spec), source };
  });
  return { version: 1, commands: specs };
}

/** Reads a manifest written by {@link buildManifest}. */
export function readManifest(file: URL | string): CommandManifest {
  const m = JSON.parse(readFileSync(file, 'utf8')) as CommandManifest;
  if (m.version !== 1 || !Array.isArray(m.commands))
    throw new XError('INTERNAL', `${String(file)}: not a runner command manifest (run pnpm build)`);
  return m;
}

/** Commands whose `run` imports the defining module on first use. */
export function lazyCommands(
  manifest: CommandManifest,
  sources: readonly CommandSource[],
): Command[] {
  return manifest.commands.map(({ source, ...spec }) => ({
    ...spec,
    async run(ctx) {
      const from = sources.find((s) => s.name === source);
      const cmd =
        from === undefined
          ? undefined
          : commandsOf(await from.load()).find((c) => c.path.join(' ') === spec.path.join(' '));
      if (cmd === undefined)
        throw new XError(
          'INTERNAL',
          `command '${spec.path.join(' ')}' is not in module '${source}': the build is stale (run pnpm build)`,
        );
      return cmd.run(ctx);
    },
  }));
}
