// Shared by the kernel tests and their worker fixture: seeded data and naive double-precision references.
import type { BatchOp } from '../../src/annoy/kernels/kernels.js';

export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomVector(f: number, random: () => number): Float32Array {
  const v = new Float32Array(f);
  for (let i = 0; i < f; i++) v[i] = random() * 2 - 1;
  return v;
}

/** Writes `count` random vectors into `buffer`, vector i at byte `base + i * nodeBytes + vOffset`. */
export function fillNodes(buffer: ArrayBufferLike, base: number, count: number, nodeBytes: number, vOffset: number, f: number, random: () => number): void {
  for (let i = 0; i < count; i++) {
    new Float32Array(buffer, base + i * nodeBytes + vOffset, f).set(randomVector(f, random));
  }
}

/** Returns [value, scale]: scale bounds the rounding error (Σ|terms|), so cancellation in dot does not fail tests. */
export function reference(op: BatchOp, q: ArrayLike<number>, v: ArrayLike<number>): [number, number] {
  let s = 0;
  let scale = 0;
  for (let i = 0; i < q.length; i++) {
    const term = op === 'dot' ? q[i] * v[i] : op === 'l2' ? (q[i] - v[i]) ** 2 : Math.abs(q[i] - v[i]);
    s += term;
    scale += Math.abs(term);
  }
  return [s, scale];
}

export function vectorAt(buffer: ArrayBufferLike, byte: number, f: number): Float32Array {
  return new Float32Array(buffer, byte, f);
}

/** Within 1e-5 relative to the larger of the value and its error scale. */
export function close(got: number, [want, scale]: [number, number]): boolean {
  return Math.abs(got - want) <= 1e-5 * Math.max(Math.abs(want), scale) + 1e-30;
}
