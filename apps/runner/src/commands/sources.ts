/** A module that defines commands, loaded only when one of its commands runs. */
export interface CommandSource {
  name: string;
  load: () => Promise<Record<string, unknown>>;
}

/**
 * Where every command of `./index.ts` lives, for the built runner's lazy registry: `--help` and
 * flag errors come from the manifest written at build time, and a command's module (with tfjs,
 * h5wasm, undici, ink behind it) is imported only when that command runs. A command added to
 * `./index.ts` needs its module here too (the build and a test check that both agree).
 */
export const commandSources: readonly CommandSource[] = [
  { name: 'doctor', load: () => import('./doctor.js') },
  { name: 'quickstart', load: () => import('./quickstart.js') },
  { name: 'ckpt', load: () => import('./ckpt.js') },
  { name: 'ired', load: () => import('./ired.js') },
  { name: 'operators', load: () => import('./operators.js') },
  { name: 'timestepper', load: () => import('./timestepper.js') },
  { name: 'wandb', load: () => import('./wandb.js') },
  { name: 'report', load: () => import('./report.js') },
  { name: 'queue', load: () => import('./queue.js') },
  { name: 'worker', load: () => import('./worker.js') },
];
