import { XError, isTensorData, isXError, type ComponentMap, type State } from '@x/core';
import type { LoadedCheckpoint } from './checkpointIo.js';

/**
 * Sets each component's state from a loaded checkpoint. Tensors present in both the current and
 * the saved state are checked first (dtype and shape, naming the leaf path); each component's
 * `setState` validates the rest. If a `setState` fails, the components already set are put back
 * to their previous state.
 */
export async function applyState(
  components: ComponentMap,
  loaded: LoadedCheckpoint,
): Promise<void> {
  const names = Object.keys(components).sort();
  const before: Record<string, State> = {};
  for (const name of names) {
    if (!(name in loaded.state)) {
      throw new XError(
        'STATE_MISMATCH',
        `${loaded.dir}: ${name}: missing (the checkpoint holds ${Object.keys(loaded.state).sort().join(', ') || 'nothing'})`,
        { details: { path: name } },
      );
    }
    const current = await (components[name] as ComponentMap[string]).getState();
    before[name] = current;
    const bad = tensorMismatch(current, loaded.state[name] as State, name);
    if (bad !== undefined) {
      throw new XError('STATE_MISMATCH', `${loaded.dir}: ${bad.path}: ${bad.reason}`, {
        details: { path: bad.path },
      });
    }
  }
  const done: string[] = [];
  try {
    for (const name of names) {
      try {
        await (components[name] as ComponentMap[string]).setState(loaded.state[name] as State);
      } catch (err) {
        if (isXError(err)) {
          throw new XError(err.code, `${loaded.dir}: ${name}/${err.message}`, {
            cause: err,
            details: err.details,
          });
        }
        throw err;
      }
      done.push(name);
    }
  } catch (err) {
    for (const name of done)
      await (components[name] as ComponentMap[string]).setState(before[name] as State);
    throw err;
  }
}

function tensorMismatch(
  current: State,
  saved: State,
  path: string,
): { path: string; reason: string } | undefined {
  if (isTensorData(current)) {
    if (!isTensorData(saved))
      return {
        path,
        reason: `expected tensor ${current.dtype}[${current.shape.join(', ')}], got ${saved === null ? 'null' : Array.isArray(saved) ? 'array' : typeof saved}`,
      };
    if (saved.dtype !== current.dtype)
      return { path, reason: `expected dtype ${current.dtype}, got ${saved.dtype}` };
    if (
      saved.shape.length !== current.shape.length ||
      saved.shape.some((d, i) => d !== current.shape[i])
    ) {
      return {
        path,
        reason: `expected shape [${current.shape.join(', ')}], got [${saved.shape.join(', ')}]`,
      };
    }
    return undefined;
  }
  if (
    current === null ||
    typeof current !== 'object' ||
    saved === null ||
    typeof saved !== 'object' ||
    isTensorData(saved)
  )
    return undefined;
  const cur = current as Record<string, State>;
  const sav = saved as Record<string, State>;
  for (const k of Object.keys(cur).sort()) {
    if (!Object.prototype.hasOwnProperty.call(sav, k)) continue;
    const r = tensorMismatch(cur[k] as State, sav[k] as State, `${path}/${k}`);
    if (r !== undefined) return r;
  }
  return undefined;
}
