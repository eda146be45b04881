// `pnpm bench faults [--rounds 50] [--steps 40] [--seed 11] [--minutes m]`: kill -9 a real
// `runner ired train --save-every 1` at seeded random moments, resume it each time, and count
// rows lost / duplicated / different from an uninterrupted run in JSONL, TensorBoard and the
// W&B offline spool. Goal: 0 over >= 50 rounds.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { killRounds, referenceRun } from '../apps/runner/src/faults/killRounds.js';

function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`--${name}: expected an integer`);
  return v;
}

export async function main(args: string[]): Promise<void> {
  const rounds = flag(args, 'rounds', 50);
  const steps = flag(args, 'steps', 40);
  const seed = flag(args, 'seed', 11);
  const minutes = flag(args, 'minutes', 0);
  const dir = mkdtempSync(join(tmpdir(), 'x-bench-faults-'));
  const t0 = performance.now();
  const deadline = minutes > 0 ? Date.now() + minutes * 60_000 : undefined;
  try {
    process.stdout.write(`faults: reference run of ${steps} steps …\n`);
    const reference = await referenceRun(join(dir, 'reference'), dir, steps);
    let runs = 0;
    const totals = { rounds: 0, killed: 0, durable: 0, lost: 0, duplicated: 0, mismatched: 0 };
    const problems: string[] = [];
    // Several runs when one run finishes before all rounds were spent.
    while (totals.rounds < rounds && (deadline === undefined || Date.now() < deadline)) {
      const r = await killRounds({
        runDir: join(dir, `run-${runs}`),
        cwd: dir,
        steps,
        rounds: rounds - totals.rounds,
        seed: seed * 1000 + runs,
        reference,
        ...(deadline === undefined ? {} : { deadline }),
        onRound: (i, ms, ck, durable) =>
          process.stdout.write(
            `  run ${runs} round ${i}: killed after ${(ms / 1000).toFixed(2)} s, newest checkpoint ${ck}, ${durable ? 'every committed step durable in every sink' : 'ROWS MISSING'}\n`,
          ),
      });
      runs++;
      totals.rounds += r.rounds;
      totals.killed += r.killed;
      totals.durable += r.durableRounds;
      totals.lost += r.lost;
      totals.duplicated += r.duplicated;
      totals.mismatched += r.mismatched;
      problems.push(...r.problems);
      if (r.rounds === 0) break;
    }
    const secs = (performance.now() - t0) / 1000;
    for (const p of problems.slice(0, 30)) process.stdout.write(`  problem: ${p}\n`);
    process.stdout.write(
      `faults: ${totals.killed} kill -9 rounds (${totals.rounds} rounds, ${runs} runs of ${steps} steps, seed ${seed}): ` +
        `${totals.durable}/${totals.rounds} rounds with every committed step durable in JSONL, TensorBoard and the W&B spool; ` +
        `rows lost ${totals.lost}, duplicated ${totals.duplicated}, different from the uninterrupted run ${totals.mismatched}; ` +
        `${secs.toFixed(0)} s, load average ${loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')}\n`,
    );
    if (totals.lost + totals.duplicated + totals.mismatched > 0) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
