import type { Command } from '../command.js';

export const doctorCommand: Command = {
  path: ['doctor'],
  summary:
    'tensor backends available and chosen, versions, gradient self-check of the training ops',
  usage: '[--backend <auto|tensorflow|wasm|cpu>]',
  options: { backend: { type: 'string' } },
  run(ctx) {
    ctx.out.line('doctor: not implemented yet');
    return Promise.resolve(0);
  },
};
