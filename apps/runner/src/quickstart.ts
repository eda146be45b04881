import type { Output } from './command.js';
import type { BackendRequest } from './runSetup.js';

/** What a quickstart step receives. */
export interface QuickstartContext {
  /** The quickstart's output root; each step writes under `<outRoot>/<name>`. */
  outRoot: string;
  backend: BackendRequest;
  quiet: boolean;
  out: Output;
}

/** One pipeline's part of `runner quickstart`: a short reference run. */
export interface QuickstartStep {
  name: string;
  /** Runs the step and returns `label: path` lines telling where each output went. */
  run(ctx: QuickstartContext): Promise<string[]>;
}

/** The pipelines' quickstart steps, in order. Pipelines add theirs here. */
export const quickstartSteps: QuickstartStep[] = [];

/** Pipelines of the contract, to say which are not there yet. */
export const allPipelines = ['ired', 'timestepper', 'operators'];
