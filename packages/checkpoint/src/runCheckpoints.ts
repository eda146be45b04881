import { join } from 'node:path';
import { XError, type ComponentMap } from '@x/core';
import { CheckpointManager } from './manager.js';
import type { CheckpointManagerOptions, RestoreResult, SaveOptions } from './managerTypes.js';

/** Options of {@link openRunCheckpoints}. */
export interface RunCheckpointOptions extends CheckpointManagerOptions {
  /** Checkpoint cadence in optimizer steps (`--save-every`). */
  saveEvery: number;
  /** Continue from the newest valid checkpoint (`--resume`). */
  resume?: boolean;
}

/** Where a run starts. */
export interface ResumePoint {
  /** Optimizer steps already done (0 for a fresh run). */
  step: number;
  /** The restore report when a checkpoint was restored. */
  restored?: RestoreResult;
}

/** A run's checkpoints as a `train` command uses them. */
export interface RunCheckpoints {
  manager: CheckpointManager;
  /** `<run-dir>/checkpoints`. */
  directory: string;
  /**
   * With `resume`, restores the newest valid checkpoint into the components (damaged newer ones
   * are skipped with a warning) and returns its step; otherwise returns step 0. A resumed run
   * without any checkpoint starts at 0 with a warning.
   */
  resume(components: ComponentMap): Promise<ResumePoint>;
  /** Saves when `step` is a positive multiple of `saveEvery`; returns whether it saved. */
  maybeSave(step: number, components: ComponentMap, options?: SaveOptions): Promise<boolean>;
  /** Writes the final checkpoint (unless `step` is already saved) and waits for background saves. */
  finish(step: number, components: ComponentMap, options?: SaveOptions): Promise<void>;
}

/**
 * The checkpoints of a run directory for `--resume` / `--save-every`:
 *
 * @example
 * const ckpt = openRunCheckpoints(setup.runDir, { saveEvery: cfg.saveEvery, resume: setup.resume, onWarning: out.warn });
 * let { step } = await ckpt.resume(components);
 * while (step < cfg.steps) { trainStep(); step++; await ckpt.maybeSave(step, components, { metrics }); }
 * await ckpt.finish(step, components, { metrics });
 */
export function openRunCheckpoints(runDir: string, options: RunCheckpointOptions): RunCheckpoints {
  const { saveEvery, resume, ...managerOptions } = options;
  if (!Number.isSafeInteger(saveEvery) || saveEvery < 1) {
    throw new XError('INVALID_CONFIG', `saveEvery: expected a positive integer, got ${saveEvery}`);
  }
  const directory = join(runDir, 'checkpoints');
  const manager = new CheckpointManager(directory, managerOptions);
  let lastSaved: number | undefined;
  return {
    manager,
    directory,
    async resume(components) {
      if (resume !== true) return { step: 0 };
      if ((await manager.latest()) === undefined) {
        options.onWarning?.(`no checkpoint in ${directory} to resume from; starting at step 0`);
        return { step: 0 };
      }
      const restored = await manager.restore(components, { allowFallback: true });
      for (const c of await manager.list()) {
        if (c.step > restored.step) {
          const to = await manager.quarantine(c.step);
          options.onWarning?.(
            `damaged checkpoint step ${c.step} moved to ${to}; the run continues from step ${restored.step}`,
          );
        }
      }
      lastSaved = restored.step;
      return { step: restored.step, restored };
    },
    async maybeSave(step, components, saveOptions) {
      if (step <= 0 || step % saveEvery !== 0 || step === lastSaved) return false;
      await manager.save(step, components, saveOptions);
      lastSaved = step;
      return true;
    },
    async finish(step, components, saveOptions) {
      if (step !== lastSaved && (await manager.list()).every((c) => c.step !== step)) {
        await manager.save(step, components, saveOptions);
        lastSaved = step;
      }
      await manager.close();
    },
  };
}
