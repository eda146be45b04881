/**
 * Stable error codes. Callers match on `code`, never on the message.
 */
export const ErrorCodes = {
  /** A config value, flag or option is invalid. */
  INVALID_CONFIG: 'INVALID_CONFIG',
  /** An input file is malformed or does not exist. */
  INVALID_INPUT: 'INVALID_INPUT',
  /** A state tree does not match what a component expects (wrong tree, shape or dtype). */
  STATE_MISMATCH: 'STATE_MISMATCH',
  /** Stored data failed an integrity check (checksum, digest, bit-exact replay). */
  INTEGRITY: 'INTEGRITY',
  /** A requested item (checkpoint, file, run) was not found. */
  NOT_FOUND: 'NOT_FOUND',
  /** An environment problem: backend unavailable, disk full, permission denied. */
  ENVIRONMENT: 'ENVIRONMENT',
  /** A numerical failure: NaN or Inf where a finite value is required. */
  NUMERICAL: 'NUMERICAL',
  /** A bug or an unexpected failure. */
  INTERNAL: 'INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Options of {@link XError}. */
export interface XErrorOptions {
  cause?: unknown;
  /** Extra structured detail (file, line, leaf path, …) for tools; not part of the message. */
  details?: Record<string, unknown>;
}

/**
 * The base error of every `@x` package: a stable `code`, a readable message and the `cause` kept.
 *
 * @example
 * throw new XError('INVALID_CONFIG', 'train.lr: expected positive number, got -1');
 */
export class XError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: XErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'XError';
    this.code = code;
    this.details = options.details ?? {};
  }
}

/** Returns true when `err` is an {@link XError}, optionally with the given code. */
export function isXError(err: unknown, code?: ErrorCode): err is XError {
  return err instanceof XError && (code === undefined || err.code === code);
}

/** Normalises anything thrown into an {@link XError} (unknown errors become `INTERNAL`). */
export function toXError(err: unknown): XError {
  if (err instanceof XError) return err;
  if (err instanceof Error) {
    const sys = (err as NodeJS.ErrnoException).code;
    if (
      sys === 'ENOSPC' ||
      sys === 'EACCES' ||
      sys === 'EPERM' ||
      sys === 'EROFS' ||
      sys === 'EDQUOT'
    ) {
      return new XError('ENVIRONMENT', err.message, { cause: err });
    }
    if (sys === 'ENOENT') return new XError('NOT_FOUND', err.message, { cause: err });
    return new XError('INTERNAL', err.message, { cause: err });
  }
  return new XError('INTERNAL', String(err));
}

/** Process exit codes of command-line tools, per the runner contract. */
export const ExitCodes = { ok: 0, checkFailed: 1, badInput: 2, internal: 3 } as const;

/** Maps an error code to the runner contract's exit code (2 for bad input, 1 for failed checks, 3 otherwise). */
export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'INVALID_CONFIG':
    case 'INVALID_INPUT':
    case 'STATE_MISMATCH':
    case 'NOT_FOUND':
      return ExitCodes.badInput;
    case 'INTEGRITY':
      return ExitCodes.checkFailed;
    case 'ENVIRONMENT':
    case 'NUMERICAL':
    case 'INTERNAL':
      return ExitCodes.internal;
  }
}
