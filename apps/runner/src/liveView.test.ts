import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runnerCommandLine } from './testkit.js';

const dir = mkdtempSync(join(tmpdir(), 'x-live-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** util-linux `script` runs a command under a real pseudo-terminal (Debian: bsdutils). */
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

const tiny = [
  ...['--set', 'model.channels=4', '--set', 'model.blocks=1', '--set', 'model.kernel=3'],
  ...['--set', 'model.timeDim=8', '--set', 'model.fourierDim=8', '--set', 'train.batchSize=2'],
  ...['--set', 'diffusion.landscapes=3', '--set', 'diffusion.optSteps=2', '--backend', 'cpu'],
];

/**
 * Wider and larger batches than `tiny`: ~0.1 s a step on the cpu backend of an idle 2-core machine,
 * so 60 steps last several redraw periods (4 a second) wherever the test runs.
 */
const paced = tiny.map((a) =>
  a === 'model.channels=4'
    ? 'model.channels=8'
    : a === 'train.batchSize=2'
      ? 'train.batchSize=8'
      : a,
);

/** Starts `runner <args>` under a pseudo-terminal; `output()` is what the terminal received. */
function underPty(args: string[]) {
  const child = spawn('script', ['-qfec', runnerCommandLine(args), '/dev/null'], {
    cwd: dir,
    env: { ...process.env, INIT_CWD: dir, COLUMNS: '120', LINES: '40' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  return { child, exited, output: () => text };
}

/** A redraw: ink erases the previous frame (erase line + cursor up, repeated) and writes the next. */
const ESC = String.fromCharCode(27);
const REDRAW = new RegExp(`${ESC}\\[2K(?:${ESC}\\[1A${ESC}\\[2K)*${ESC}\\[G`);

/** Frames drawn in place after the first, each showing the progress with rate and ETA. */
function inPlaceFrames(text: string): string[] {
  return text
    .split(REDRAW)
    .slice(1)
    .filter((f) => /steps\/s/.test(f) && /ETA \d+:\d\d/.test(f));
}

describe.skipIf(!hasScript)('live view in a real pseudo-terminal (util-linux script)', () => {
  it('a 60-step ired train redraws in place with bar, rate and ETA before it ends', async () => {
    const run = underPty(['ired', 'train', '--out', join(dir, 'a'), '--steps', '60', ...paced]);
    const code = await run.exited;
    const text = run.output();
    expect(code, text).toBe(0);
    const frames = inPlaceFrames(text);
    expect(frames.length, text.slice(0, 3000)).toBeGreaterThanOrEqual(5);
    const beforeEnd = frames.filter((f) => /step (\d+)\/60/.exec(f)?.[1] !== '60');
    expect(beforeEnd.length).toBeGreaterThanOrEqual(4);
    expect(text).toContain('█');
    expect(text).not.toMatch(/^step \d+\/60: loss/m);
  }, 240_000);

  it('Ctrl-C stops training within a step: final checkpoint, exit 130', async () => {
    const runDir = join(dir, 'b');
    const run = underPty(['ired', 'train', '--out', runDir, '--steps', '100000', ...tiny]);
    const deadline = Date.now() + 200_000;
    while (inPlaceFrames(run.output()).length < 2 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    const sent = performance.now();
    run.child.stdin.write('\u0003');
    const code = await run.exited;
    const latency = performance.now() - sent;
    const text = run.output();
    expect(code, text.slice(-2000)).toBe(130);
    expect(text).toContain('SIGINT received');
    expect(latency).toBeLessThan(15_000);
    const steps = readdirSync(join(runDir, 'checkpoints')).filter((d) => d.startsWith('step-'));
    expect(steps.length).toBe(1);
    expect(existsSync(join(runDir, '.lock'))).toBe(false);
  }, 240_000);
});
