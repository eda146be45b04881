import { XError, isTensorData, joinPath, setOwn, type State, type TensorData } from '@x/core';
import { copyBytes, type CopyJob } from './copyThreads.js';

/** Largest shared buffer the staging area allocates (bigger tensors get one of their own). */
const SLAB_BYTES = 1 << 30;
const ALIGN = 8;

type ViewCtor = new (
  buffer: SharedArrayBuffer,
  byteOffset: number,
  length: number,
) => TensorData['data'];

/**
 * Reusable shared memory for the copy a background save takes of the state. The first copy
 * allocates it; later copies of a state of the same (or smaller) size reuse it, so they cost a
 * memory copy instead of fresh pages, and hashing threads read the copy without another one.
 * Safe to reuse because a manager starts the next copy only after the previous save finished.
 */
export class StagingArea {
  #slabs: SharedArrayBuffer[] = [];

  /**
   * A deep copy of `state` whose tensors live in the staging area (valid until the next copy),
   * except tensors for which `keep` is true, which the copy shares. Tensors already in shared
   * memory are copied by several threads at once (see copyBytes).
   */
  async copy<S extends State>(
    state: S,
    keep: (t: TensorData) => boolean = () => false,
  ): Promise<S> {
    const tensors: TensorData[] = [];
    collect(state, '', tensors, keep);
    let total = 0;
    for (const t of tensors) total += align(t.data.byteLength);
    const places = this.#place(tensors, total);
    const jobs: CopyJob[] = [];
    let i = 0;
    const walk = (v: State): State => {
      if (v === null || typeof v !== 'object') return v;
      if (isTensorData(v)) {
        if (keep(v)) return v;
        const [slab, offset] = places[i++] as [SharedArrayBuffer, number];
        const data = new (v.data.constructor as ViewCtor)(slab, offset, v.data.length);
        jobs.push([v.data.buffer, v.data.byteOffset, slab, offset, v.data.byteLength]);
        return { dtype: v.dtype, shape: [...v.shape], data };
      }
      if (Array.isArray(v)) return v.map(walk);
      const out: Record<string, State> = {};
      for (const [k, x] of Object.entries(v)) setOwn(out, k, walk(x));
      return out;
    };
    const copied = walk(state) as S;
    await copyBytes(jobs);
    return copied;
  }

  #place(tensors: readonly TensorData[], total: number): [SharedArrayBuffer, number][] {
    const out: [SharedArrayBuffer, number][] = [];
    let slab = -1;
    let used = 0;
    let left = total;
    for (const t of tensors) {
      const need = align(t.data.byteLength);
      if (slab < 0 || (this.#slabs[slab] as SharedArrayBuffer).byteLength - used < need) {
        slab++;
        used = 0;
        const have = this.#slabs[slab];
        if (have === undefined || have.byteLength < need)
          this.#slabs[slab] = new SharedArrayBuffer(Math.max(need, Math.min(left, SLAB_BYTES)));
      }
      out.push([this.#slabs[slab] as SharedArrayBuffer, used]);
      used += need;
      left -= need;
    }
    this.#slabs.length = slab + 1;
    return out;
  }
}

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

function collect(
  v: State,
  path: string,
  into: TensorData[],
  keep: (t: TensorData) => boolean,
): void {
  if (v === null || typeof v !== 'object') return;
  if (isTensorData(v)) {
    if (!keep(v)) into.push(v);
    return;
  }
  if (ArrayBuffer.isView(v)) {
    throw new XError(
      'STATE_MISMATCH',
      `${path || '<root>'}: bare typed array in state; wrap it with tensorData()`,
    );
  }
  if (Array.isArray(v)) v.forEach((x, i) => collect(x, joinPath(path, String(i)), into, keep));
  else for (const [k, x] of Object.entries(v)) collect(x, joinPath(path, k), into, keep);
}
