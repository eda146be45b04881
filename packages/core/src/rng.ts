import { createHash } from 'node:crypto';
import type { Component } from './component.js';
import { XError } from './errors.js';
import { assertStateMatches } from './state.js';

/** Serializable state of an {@link Rng}: the stream key and the xoshiro128** words. */
export interface RngState {
  [key: string]: string | number[];
  algorithm: 'xoshiro128**';
  key: string;
  s: number[];
}

/** A part of a stream name: strings and integers (e.g. `rng.stream('noise', opIndex, t)`). */
export type StreamPart = string | number | bigint;

const RNG_TEMPLATE: RngState = { algorithm: 'xoshiro128**', key: '', s: [0, 0, 0, 0] };
const TWO_POW_32 = 4294967296;

function deriveKey(parent: string, parts: readonly StreamPart[]): string {
  const h = createHash('sha256');
  h.update('x-rng/v1\0');
  h.update(parent);
  for (const p of parts) {
    if (typeof p === 'number' && !Number.isFinite(p)) {
      throw new XError('INVALID_CONFIG', `stream name part ${p} is not finite`);
    }
    const enc = typeof p === 'string' ? `s${p}` : `n${p.toString()}`;
    h.update('\0');
    h.update(String(Buffer.byteLength(enc)));
    h.update(':');
    h.update(enc);
  }
  return h.digest('hex');
}

function wordsFromKey(key: string): [number, number, number, number] {
  const b = Buffer.from(key, 'hex');
  const s: [number, number, number, number] = [
    b.readUInt32LE(0),
    b.readUInt32LE(4),
    b.readUInt32LE(8),
    b.readUInt32LE(12),
  ];
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1;
  return s;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * A seeded random number generator (xoshiro128**, 128-bit state) whose state is a
 * {@link Component}. Named streams are derived by hashing the stream's key with the name, so
 * `rng.stream('noise', 3)` yields the same numbers whatever else was drawn before, in any process
 * on any machine.
 *
 * @example
 * const rng = Rng.fromSeed(42);
 * const noise = rng.stream('noise', opIndex, t);
 * const x = noise.normal();
 */
export class Rng implements Component<RngState> {
  #key: string;
  #s: [number, number, number, number];

  private constructor(key: string) {
    this.#key = key;
    this.#s = wordsFromKey(key);
  }

  /** A root generator for a seed (integers, bigints and strings are all accepted). */
  static fromSeed(seed: StreamPart): Rng {
    if (typeof seed === 'number' && !Number.isSafeInteger(seed)) {
      throw new XError('INVALID_CONFIG', `seed must be a safe integer or a string, got ${seed}`);
    }
    return new Rng(deriveKey('root', [seed]));
  }

  /** The stream's identity (hex); substreams are derived from it, never from the draw position. */
  get key(): string {
    return this.#key;
  }

  /** An independent generator for the named substream (deterministic in the names only). */
  stream(...parts: StreamPart[]): Rng {
    return new Rng(deriveKey(this.#key, parts));
  }

  /** A 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] = (s[2] ^ s[0]) >>> 0;
    s[3] = (s[3] ^ s[1]) >>> 0;
    s[1] = (s[1] ^ s[2]) >>> 0;
    s[0] = (s[0] ^ s[3]) >>> 0;
    s[2] = (s[2] ^ t) >>> 0;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** A float64 uniform in [low, high) with 53 random bits. */
  uniform(low = 0, high = 1): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    const u = (a * 67108864 + b) / 9007199254740992;
    return low + (high - low) * u;
  }

  /** A normal draw (Box–Muller, one value per two uniforms, no cached spare). */
  normal(mean = 0, std = 1): number {
    const u1 = 1 - this.uniform();
    const u2 = this.uniform();
    return mean + std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** An integer uniform in [low, high) without modulo bias. */
  int(low: number, high: number): number {
    const range = high - low;
    if (
      !Number.isSafeInteger(low) ||
      !Number.isSafeInteger(high) ||
      range <= 0 ||
      range > TWO_POW_32
    ) {
      throw new XError(
        'INVALID_CONFIG',
        `int(${low}, ${high}): need integers with 0 < high - low <= 2^32`,
      );
    }
    const limit = TWO_POW_32 - (TWO_POW_32 % range);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return low + (x % range);
    }
  }

  /** One element of `items`, uniformly. */
  choice<T>(items: readonly T[]): T {
    if (items.length === 0) throw new XError('INVALID_CONFIG', 'choice() from an empty list');
    return items[this.int(0, items.length)] as T;
  }

  /** Shuffles `items` in place (Fisher–Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i + 1);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }

  /** A uniformly random permutation of 0..n-1. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }

  /** `k` distinct indices from 0..n-1, in draw order (without replacement). */
  sample(n: number, k: number): number[] {
    if (k > n || k < 0) throw new XError('INVALID_CONFIG', `sample(${n}, ${k}): need 0 <= k <= n`);
    const pool = Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < k; i++) {
      const j = this.int(i, n);
      const tmp = pool[i] as number;
      pool[i] = pool[j] as number;
      pool[j] = tmp;
    }
    return pool.slice(0, k);
  }

  /** Fills `out` with uniforms in [low, high). */
  fillUniform<T extends Float32Array | Float64Array>(out: T, low = 0, high = 1): T {
    for (let i = 0; i < out.length; i++) out[i] = this.uniform(low, high);
    return out;
  }

  /** Fills `out` with normal draws. */
  fillNormal<T extends Float32Array | Float64Array>(out: T, mean = 0, std = 1): T {
    for (let i = 0; i < out.length; i++) out[i] = this.normal(mean, std);
    return out;
  }

  getState(): RngState {
    return { algorithm: 'xoshiro128**', key: this.#key, s: [...this.#s] };
  }

  setState(state: RngState): void {
    assertStateMatches(RNG_TEMPLATE, state);
    if (state.algorithm !== 'xoshiro128**') {
      throw new XError(
        'STATE_MISMATCH',
        `algorithm: expected xoshiro128**, got ${String(state.algorithm)}`,
      );
    }
    if (!/^[0-9a-f]{64}$/.test(state.key))
      throw new XError('STATE_MISMATCH', 'key: expected 64 hex digits');
    state.s.forEach((w, i) => {
      if (!Number.isInteger(w) || w < 0 || w >= TWO_POW_32) {
        throw new XError('STATE_MISMATCH', `s/${i}: expected a uint32, got ${w}`);
      }
    });
    if (state.s.every((w) => w === 0))
      throw new XError('STATE_MISMATCH', 's: the all-zero state is invalid');
    this.#key = state.key;
    this.#s = [state.s[0], state.s[1], state.s[2], state.s[3]] as [number, number, number, number];
  }
}

/** Serializable state of {@link RngStreams}. */
export interface RngStreamsState {
  [key: string]: string | Record<string, RngState>;
  seed: string;
  streams: Record<string, RngState>;
}

/**
 * The named, stateful random streams of a run (data order, noise, dropout, …) as one
 * {@link Component}, so a checkpoint captures every stream's position.
 *
 * @example
 * const streams = new RngStreams(1234);
 * const data = streams.get('data');   // same object on every call
 */
export class RngStreams implements Component<RngStreamsState> {
  readonly seed: string;
  readonly root: Rng;
  readonly #streams = new Map<string, Rng>();

  constructor(seed: StreamPart) {
    this.seed = String(seed);
    this.root = Rng.fromSeed(seed);
  }

  /** The stateful stream with this name, created on first use. */
  get(name: string): Rng {
    let r = this.#streams.get(name);
    if (r === undefined) {
      r = this.root.stream(name);
      this.#streams.set(name, r);
    }
    return r;
  }

  getState(): RngStreamsState {
    const streams: Record<string, RngState> = {};
    for (const name of [...this.#streams.keys()].sort())
      streams[name] = (this.#streams.get(name) as Rng).getState();
    return { seed: this.seed, streams };
  }

  setState(state: RngStreamsState): void {
    if (typeof state !== 'object' || state === null || typeof state.seed !== 'string') {
      throw new XError('STATE_MISMATCH', 'seed: expected a string');
    }
    if (state.seed !== this.seed) {
      throw new XError('STATE_MISMATCH', `seed: expected ${this.seed}, got ${state.seed}`);
    }
    if (typeof state.streams !== 'object' || state.streams === null) {
      throw new XError('STATE_MISMATCH', 'streams: expected an object');
    }
    for (const [name, s] of Object.entries(state.streams)) {
      try {
        this.root.stream(name).setState(s);
      } catch (err) {
        throw new XError('STATE_MISMATCH', `streams/${name}/${(err as Error).message}`, {
          cause: err,
        });
      }
    }
    // Update streams in place so references handed out by get() stay valid.
    for (const [name, r] of this.#streams) {
      if (!(name in state.streams)) r.setState(this.root.stream(name).getState());
    }
    for (const [name, s] of Object.entries(state.streams)) this.get(name).setState(s);
  }
}
