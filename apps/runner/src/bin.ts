#!/usr/bin/env node
import './requireNode.js';
import { existsSync } from 'node:fs';
import { runCli } from './cli.js';
import type { Command } from './command.js';
import { commandSources } from './commands/sources.js';
import { lazyCommands, readManifest } from './manifest.js';

// Built runner (dist/): the manifest answers --help and flag errors, and a command's module loads
// only when it runs. From source (the dev loader) there is no manifest: every module loads.
const manifestFile = new URL('./commands.json', import.meta.url);
const commands: readonly Command[] = existsSync(manifestFile)
  ? lazyCommands(readManifest(manifestFile), commandSources)
  : (await import('./commands/index.js')).commands;

for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

const controller = new AbortController();
const exitCodes = { SIGINT: 130, SIGTERM: 143 } as const;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (controller.signal.aborted) process.exit(exitCodes[sig]);
    process.stderr.write(
      `runner: ${sig} received; stopping at the next step boundary (again to exit now)\n`,
    );
    controller.abort(sig);
  });
}

const code = await runCli(commands, process.argv.slice(2), {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  cwd: process.env['INIT_CWD'] ?? process.cwd(),
  signal: controller.signal,
});
const preempted = controller.signal.reason as keyof typeof exitCodes | undefined;
const final = code === 0 && preempted !== undefined ? exitCodes[preempted] : code;
await new Promise((r) => process.stdout.write('', r));
await new Promise((r) => process.stderr.write('', r));
process.exit(final);
