import { XError, isXError } from '@x/core';

const ENV_CODES: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
};

/**
 * Wraps a failure of a checkpoint write into an XError that says what failed and where:
 * `ENVIRONMENT` for a full disk or denied permission, the original code for XErrors, `INTERNAL`
 * otherwise.
 */
export function writeFailure(err: unknown, what: string): XError {
  if (isXError(err))
    return new XError(err.code, `${what}: ${err.message}`, { cause: err, details: err.details });
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const msg = err instanceof Error ? err.message : String(err);
  if (code !== undefined && code in ENV_CODES) {
    return new XError('ENVIRONMENT', `${what}: ${ENV_CODES[code]} (${code}): ${msg}`, {
      cause: err,
      details: { errno: code },
    });
  }
  return new XError('INTERNAL', `${what}: ${msg}`, { cause: err });
}
