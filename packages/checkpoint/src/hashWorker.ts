import { createHash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { stateDigest, type State } from '@x/core';

/** A job of the hashing worker: SHA-256 of byte parts in order, or the state digest. */
export type HashJob = { kind: 'sha256'; parts: Uint8Array[] } | { kind: 'digest'; state: State };

/** A job with the id its answer carries. */
export type HashRequest = HashJob & { id: number };

/** The worker's answer: the hex digest, or the error message. */
export type HashResponse = { id: number; hex: string } | { id: number; error: string };

function answer(m: HashRequest): HashResponse {
  try {
    if (m.kind === 'digest') return { id: m.id, hex: stateDigest(m.state) };
    const h = createHash('sha256');
    for (const p of m.parts) h.update(p);
    return { id: m.id, hex: h.digest('hex') };
  } catch (err) {
    return { id: m.id, error: err instanceof Error ? err.message : String(err) };
  }
}

parentPort?.on('message', (m: HashRequest) => parentPort?.postMessage(answer(m)));
