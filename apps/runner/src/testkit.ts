import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tsArgs } from '@x/test-utils';
import { runCli, type CliIO } from './cli.js';
import type { Command } from './command.js';

const runnerRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Result of running the real runner CLI in a child process. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `runner <args>` as a real child process (as `pnpm runner` does) and waits for it. */
export function runRunner(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): RunResult {
  const r = spawnSync(process.execPath, tsArgs(join(runnerRoot, 'src', 'bin.ts'), args), {
    cwd: options.cwd ?? runnerRoot,
    env: { ...process.env, INIT_CWD: options.cwd ?? runnerRoot, ...options.env },
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 300_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `runner <args>` as a real child process without waiting (for signal tests). */
export function spawnRunner(args: string[], options: { cwd: string }): ChildProcess {
  return spawn(process.execPath, tsArgs(join(runnerRoot, 'src', 'bin.ts'), args), {
    cwd: runnerRoot,
    env: { ...process.env, INIT_CWD: options.cwd },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs `runner <args>` as a real child process and resolves when it exits (runs run in parallel). */
export function runRunnerAsync(args: string[], options: { cwd: string }): Promise<RunResult> {
  return new Promise((done) => {
    const child = spawnRunner(args, options);
    const r = { code: 0, stdout: '', stderr: '' };
    child.stdout?.on('data', (d: Buffer) => (r.stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (r.stderr += d.toString()));
    child.on('close', (code) => done({ ...r, code: code ?? -1 }));
  });
}

/** In-memory CLI streams that collect what a command writes. */
export function memoryIO(cwd: string = tmpdir()): CliIO & { out: string; err: string } {
  const r = {
    out: '',
    err: '',
    cwd,
    stdout: (t: string) => void (r.out += t),
    stderr: (t: string) => void (r.err += t),
  };
  return r;
}

/** Runs `runner <args>` in this process over the given commands, collecting its output. */
export async function runInProcess(
  commands: readonly Command[],
  args: string[],
  cwd: string,
): Promise<RunResult> {
  const io = memoryIO(cwd);
  const code = await runCli(commands, args, io);
  return { code, stdout: io.out, stderr: io.err };
}

/** A tiny `timestepper train` config for tests (seconds per epoch on the cpu backend). */
export const tinyTimestepperArgs = [
  '--set',
  'batch=2',
  '--set',
  'model.hidden=[8]',
  '--set',
  'part1.stepsPerEpoch=3',
  '--set',
  'part2.batch=2',
  '--set',
  'part2.rollout=3',
  '--set',
  'part2.bufferSize=64',
];

/** How a signalled child process ended. */
export interface SignalResult {
  code: number | null;
  /** Milliseconds from sending the signal to the process's exit. */
  latencyMs: number;
  /** Milliseconds from spawn until `ready` matched. */
  readyMs: number;
  stdout: string;
  stderr: string;
}

/**
 * Starts `runner <args>`, waits until its stderr matches `ready` (the command is in its main
 * loop), optionally runs `whileRunning`, sends `signal` and measures the time to exit.
 */
export async function signalLatency(
  args: string[],
  options: {
    cwd: string;
    ready: RegExp;
    signal?: NodeJS.Signals;
    timeoutMs?: number;
    whileRunning?: (pid: number) => Promise<void>;
  },
): Promise<SignalResult> {
  const t0 = performance.now();
  const child = spawnRunner(args, { cwd: options.cwd });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  const deadline = Date.now() + (options.timeoutMs ?? 240_000);
  while (!options.ready.test(stderr) && child.exitCode === null && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  const readyMs = performance.now() - t0;
  if (child.exitCode === null && options.whileRunning !== undefined)
    await options.whileRunning(child.pid as number);
  const sent = performance.now();
  child.kill(options.signal ?? 'SIGTERM');
  const code = await exited;
  return { code, latencyMs: performance.now() - sent, readyMs, stdout, stderr };
}

/** The command line that starts the runner from source with this Node (for `script -c`). */
export function runnerCommandLine(args: string[]): string {
  const q = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  return [process.execPath, ...tsArgs(join(runnerRoot, 'src', 'bin.ts'), args)].map(q).join(' ');
}

/** `--set` flags of a tiny IRED model: a step takes ~0.1–0.3 s on the cpu backend. */
export const tinyIredSets = [
  ...['model.channels=4', 'model.blocks=1', 'model.kernel=3', 'model.timeDim=8'],
  ...['model.fourierDim=8', 'train.batchSize=2', 'diffusion.landscapes=3', 'diffusion.optSteps=2'],
].flatMap((kv) => ['--set', kv]);

/** A tiny operator-dataset config (12×12 grid, 2–4 base channels, 5 time steps, 2 realizations). */
export function tinyOpsConfig(rootSeed = 5) {
  return {
    rootSeed,
    timesteps: 5,
    realizations: 2,
    chunkSize: 2,
    parameters: {
      grid_size: { kind: 'choice', options: [12] },
      base_channels: { kind: 'int', min: 2, max: 4 },
    },
  };
}
