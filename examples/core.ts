import { Rng, XError, parseConfig, stateDigest, tensorData } from '@x/core';
import type { Component } from '@x/core';
import { z } from 'zod';

// A component exposes its state as a plain tree; checkpoints and digests work on that tree.
class Counter implements Component<{ n: number }> {
  n = 0;
  getState() {
    return { n: this.n };
  }
  setState(s: { n: number }) {
    this.n = s.n;
  }
}
const counter = new Counter();
counter.n = 5;
const copy = new Counter();
copy.setState(counter.getState());

// Every random draw comes from a named stream: same seed and name, same numbers, in any order.
const noise = Rng.fromSeed(42).stream('noise', /* opIndex */ 3, /* t */ 7);
const x = noise.normal();

// A SHA-256 over a state tree (tensors by dtype, shape and bytes).
const digest = stateDigest({ step: 1, w: tensorData('float32', [2], [1, 2]) });

// Config is validated once, at the boundary; bad input is an XError with a code.
const schema = z.strictObject({ lr: z.number().positive() });
const cfg = parseConfig(schema, { lr: 3e-4 }, 'example');
try {
  parseConfig(schema, { lr: -1 }, 'example');
} catch (e) {
  if (!(e instanceof XError) || e.code !== 'INVALID_CONFIG') throw e;
}

console.log({ copied: copy.n, x, digest, lr: cfg.lr });
