import { renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { commands } from './commands/index.js';
import { commandSources } from './commands/sources.js';
import { buildManifest } from './manifest.js';

// Build step (after tsc): writes dist/commands.json beside dist/bin.js, so the built runner
// answers --help and flag errors without importing any command module.
const file = fileURLToPath(new URL('./commands.json', import.meta.url));
const manifest = await buildManifest(commands, commandSources);
writeFileSync(`${file}.tmp`, `${JSON.stringify(manifest, null, 1)}\n`);
renameSync(`${file}.tmp`, file);
process.stdout.write(`runner: wrote ${file} (${manifest.commands.length} commands)\n`);
process.exit(0);
