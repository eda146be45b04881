import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pythonHas } from '@x/test-utils';
import { describe, expect, it } from 'vitest';
import { decodeNpy, encodeNpy, npyHeader } from './npy.js';
import { loadTrajectory } from './npzReader.js';
import { TrajectoryLogger, type StateArray } from './trajectoryLogger.js';

const hasNumpy = pythonHas('numpy');

const sudoku = (s: StateArray): StateArray =>
  s.shape[s.shape.length - 1] === 729
    ? { data: s.data, shape: [...s.shape.slice(0, -1), 9, 9, 9] }
    : s;
const tensor = (data: Float32Array, shape: number[]) => ({ dataSync: () => data, shape });

function fill(batch: number, step: number): Float32Array {
  return Float32Array.from({ length: batch * 729 }, (_, i) => ((i * 31 + step * 7) % 17) / 16);
}

describe('npy', () => {
  it('headers are NPY 1.0, 64-byte aligned, ended by a newline', () => {
    for (const shape of [[], [3], [2, 3, 4]]) {
      const h = npyHeader('<f4', shape);
      expect(h.length % 64).toBe(0);
      expect(Array.from(h.subarray(0, 8))).toEqual([0x93, 78, 85, 77, 80, 89, 1, 0]);
      const text = new TextDecoder().decode(h.subarray(10));
      expect(text.endsWith('\n')).toBe(true);
      expect(new DataView(h.buffer).getUint16(8, true)).toBe(h.length - 10);
    }
    expect(new TextDecoder().decode(npyHeader('<f4', [3]))).toContain("'shape': (3,), }");
  });

  it('round-trips arrays and strings', () => {
    const a = decodeNpy(
      encodeNpy({ dtype: 'f4', shape: [2, 2], data: Float32Array.of(1, 2, 3, NaN) }),
    );
    expect(a.shape).toEqual([2, 2]);
    expect(Array.from(a.data as Float32Array).slice(0, 3)).toEqual([1, 2, 3]);
    expect(decodeNpy(encodeNpy({ dtype: 'U', shape: [], data: 'héllo✓' })).data).toBe('héllo✓');
  });
});

describe('TrajectoryLogger', () => {
  it('saves seed 000 keys plus step_rejected and time_steps; reads them back; deep-copies', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'traj-'));
    const traj = new TrajectoryLogger({ transform: sudoku });
    const id = traj.init('sudoku_001', { difficulty: 'hard', landscapeIdx: 2 });
    const live = fill(2, 0);
    for (let step = 0; step < 5; step++) {
      live.set(fill(2, step));
      traj.append(id, {
        state: { dataSync: () => live, shape: [2, 729] },
        energy: [[step + 0.5], [step + 1.5]],
        step,
        success: step === 4,
        stepRejected: step === 2,
        timeStep: Int32Array.of(9 - step, 9 - step),
      });
    }
    live.fill(-1);
    expect(traj.memoryEstimate(id)).toBeGreaterThan(5 * 2 * 729 * 4);
    const path = join(dir, 'sudoku_001_traj.npz');
    await traj.save(id, path);
    const t = loadTrajectory(path);
    expect(t.states.shape).toEqual([5, 2, 9, 9, 9]);
    expect((t.states.data as Float32Array)[3 * 1458 + 5]).toBe(fill(2, 3)[5]);
    expect(t.energies.shape).toEqual([5, 2]);
    expect(Array.from(t.steps.data as Int32Array)).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from(t.successFlags.data as Uint8Array)).toEqual([0, 0, 0, 0, 1]);
    expect(Array.from(t.stepRejected.data as Uint8Array)).toEqual([0, 0, 1, 0, 0]);
    expect(t.timeSteps.shape).toEqual([5, 2]);
    expect(Array.from(t.landscapeIndices.data as Int32Array)).toEqual([2, 2, 2, 2, 2]);
    expect(t.meta).toMatchObject({
      problem_id: 'sudoku_001',
      difficulty: 'hard',
      num_steps: 5,
      completed: true,
    });
    traj.clear(id);
    expect(traj.ids).toEqual([]);
  });

  it('rejects a state whose shape changes', () => {
    const traj = new TrajectoryLogger();
    const id = traj.init('p');
    traj.append(id, { state: [1, 2, 3], energy: 1, step: 0 });
    expect(() => traj.append(id, { state: [1, 2], energy: 1, step: 1 })).toThrow(
      /state shape \[2\]/,
    );
  });

  it('streams states to disk with bounded memory, many trajectories at once, and numpy opens the files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'traj-'));
    const traj = new TrajectoryLogger({
      streaming: true,
      flushBytes: 64 * 1024,
      transform: sudoku,
    });
    const ids = Array.from({ length: 120 }, (_, k) =>
      traj.init(`p${k}`, { meta: { seed: k, note: 'x' } }),
    );
    for (let step = 0; step < 3; step++) {
      for (const id of ids) traj.append(id, { state: fill(1, step), energy: [step], step });
    }
    const big = traj.init('big');
    for (let step = 0; step < 40; step++) {
      traj.append(big, {
        state: tensor(fill(4, step), [4, 729]),
        energy: [1, 2, 3, 4],
        step,
        timeStep: step,
      });
    }
    expect(traj.memoryEstimate(big)).toBeLessThan(64 * 1024 + 4096);
    await traj.save(big, join(dir, 'big.npz'));
    await traj.save(ids[7]!, join(dir, 'p7.npz'), { clear: true });
    expect(traj.ids).not.toContain(ids[7]);
    const back = TrajectoryLogger.load(join(dir, 'big.npz'));
    expect(back.states.shape).toEqual([40, 4, 9, 9, 9]);
    expect((back.states.data as Float32Array)[39 * 4 * 729 + 100]).toBe(fill(4, 39)[100]);
    traj.clearAll();
    expect(readdirSync(dir).sort()).toEqual(['big.npz', 'p7.npz']);

    if (!hasNumpy) {
      console.warn(
        'skipping the numpy.load check: /usr/bin/python3 has no numpy (apt install python3-numpy)',
      );
      return;
    }
    const py = String.raw`
import json, sys, numpy as np
out = {}
for p in sys.argv[1:]:
    z = np.load(p)
    out[p] = {k: [str(z[k].dtype), list(z[k].shape)] for k in z.files}
    out[p]['_probe'] = [float(z['states'][-1].ravel()[100]), str(z['meta_problem_id']), int(z['meta_num_steps']), bool(z['meta_completed'])]
    if 'meta_seed' in z.files: out[p]['_seed'] = int(z['meta_seed'])
print(json.dumps(out))
`;
    const res = JSON.parse(
      execFileSync('/usr/bin/python3', ['-c', py, join(dir, 'big.npz'), join(dir, 'p7.npz')], {
        encoding: 'utf8',
      }),
    ) as Record<string, Record<string, unknown>>;
    const b = res[join(dir, 'big.npz')]!;
    expect(b['states']).toEqual(['float32', [40, 4, 9, 9, 9]]);
    expect(b['energies']).toEqual(['float32', [40, 4]]);
    expect(b['steps']).toEqual(['int32', [40]]);
    expect(b['success_flags']).toEqual(['bool', [40]]);
    expect(b['landscape_indices']).toEqual(['int32', [40]]);
    expect(b['step_rejected']).toEqual(['bool', [40]]);
    expect(b['time_steps']).toEqual(['int32', [40]]);
    expect(b['meta_problem_id']).toEqual(['<U3', []]);
    expect(b['meta_num_steps']).toEqual(['int64', []]);
    expect(b['_probe']).toEqual([fill(4, 39)[100], 'big', 40, true]);
    expect(res[join(dir, 'p7.npz')]!['_seed']).toBe(7);
  });
});
