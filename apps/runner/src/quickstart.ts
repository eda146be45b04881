import type { Output } from './command.js';
import type { BackendRequest } from './runSetup.js';

/** What a quickstart step receives. */
export interface QuickstartContext {
  /** The quickstart's output root; each step writes under `<outRoot>/<name>`. */
  outRoot: string;
  backend: BackendRequest;
  quiet: boolean;
  out: Output;
  /** Aborted on SIGINT/SIGTERM: the step stops at its next boundary. */
  signal?: AbortSignal | undefined;
}

/** What a quickstart step reports. */
export interface QuickstartReport {
  /** `label: path` lines telling where each output went. */
  outputs: string[];
  /** What the step found: what was solved and what was not, and why (plain sentences or a table). */
  findings: string[];
}

/** One pipeline's part of `runner quickstart`: a short reference run. */
export interface QuickstartStep {
  name: string;
  run(ctx: QuickstartContext): Promise<QuickstartReport>;
}
