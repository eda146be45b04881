#!/usr/bin/env node
import { runCli } from './cli.js';
import { commands } from './commands/index.js';

const code = await runCli(commands, process.argv.slice(2));
process.exitCode = code;
