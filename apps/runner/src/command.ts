/** One flag: its `node:util` parseArgs form plus what `--help` shows. */
export interface FlagDef {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** One line for `--help`. */
  description?: string;
  /**
   * The default shown in `--help` (documentation only: the command applies its own default, so an
   * absent flag stays `undefined` in `values`).
   */
  default?: string;
  /** Placeholder of the value in `--help`, e.g. `file.yaml` for `--config <file.yaml>`. */
  arg?: string;
}

/** Flag definitions by long name. */
export type FlagSpec = Readonly<Record<string, FlagDef>>;

/** Parsed flag values. */
export type FlagValues = Record<string, string | boolean | string[] | undefined>;

/** Where a command writes: results to stdout, progress and notices to stderr. */
export interface Output {
  /** A result line on stdout (machine-readable output goes last). */
  line(text: string): void;
  /** A progress or info line on stderr (suppressed by --quiet). */
  info(text: string): void;
  /** A warning on stderr (always shown). */
  warn(text: string): void;
}

/** What a command's `run` receives. */
export interface CommandContext {
  values: FlagValues;
  positionals: string[];
  out: Output;
  debug: boolean;
  quiet: boolean;
  /** The working directory the runner was started in (relative paths resolve against it). */
  cwd: string;
  /**
   * Aborted on the first SIGTERM/SIGINT. Long commands check it at step boundaries, write a final
   * checkpoint, close the logger with `preempting: true` and return; a second signal exits at once.
   */
  signal: AbortSignal;
}

/** One runner command, e.g. `runner ired train`. */
export interface Command {
  /** Words after `runner`, e.g. `['ired', 'train']`. */
  path: string[];
  summary: string;
  /** Usage line after `runner <path>`, e.g. `--checkpoint <ckpt|run-dir> --puzzles <file.csv>`. */
  usage: string;
  /** Longer help: flag descriptions, examples. */
  help?: string;
  options: FlagSpec;
  /** Allowed number of positional arguments (default 0..0). */
  positionals?: { min: number; max: number };
  /** Returns the exit code (0 when omitted). Throw an XError for bad input or failures. */
  run(ctx: CommandContext): Promise<number | void>;
}
