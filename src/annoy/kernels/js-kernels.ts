import type { IndexStorage } from '../storage.js';
import type { BatchOp, KernelSession, VectorKernels } from './kernels.js';

/*
 * Plain TypeScript kernels: the fallback when WebAssembly SIMD is unavailable, the storage is not a
 * WebAssembly memory (indexes over 4 GiB), or every scratch slot is busy.
 *
 * One Float32Array spans the whole buffer (up to 2^32 elements, i.e. 16 GiB), so byte offsets
 * become element indices by dividing by 4 (not `>>> 2`: offsets can exceed 2^32). Sums accumulate
 * in doubles, which is both faster than `Math.fround` and more precise; four partial sums give
 * the CPU independent add chains.
 */

function storedDot(v: Float32Array, a: number, b: number, f: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const n4 = f - (f % 4);
  let i = 0;
  for (; i < n4; i += 4) {
    s0 += v[a + i] * v[b + i];
    s1 += v[a + i + 1] * v[b + i + 1];
    s2 += v[a + i + 2] * v[b + i + 2];
    s3 += v[a + i + 3] * v[b + i + 3];
  }
  for (; i < f; i++) s0 += v[a + i] * v[b + i];
  return (s0 + s1) + (s2 + s3);
}

function storedL2(v: Float32Array, a: number, b: number, f: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const n4 = f - (f % 4);
  let i = 0;
  for (; i < n4; i += 4) {
    const d0 = v[a + i] - v[b + i];
    const d1 = v[a + i + 1] - v[b + i + 1];
    const d2 = v[a + i + 2] - v[b + i + 2];
    const d3 = v[a + i + 3] - v[b + i + 3];
    s0 += d0 * d0;
    s1 += d1 * d1;
    s2 += d2 * d2;
    s3 += d3 * d3;
  }
  for (; i < f; i++) {
    const d = v[a + i] - v[b + i];
    s0 += d * d;
  }
  return (s0 + s1) + (s2 + s3);
}

function storedL1(v: Float32Array, a: number, b: number, f: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const n4 = f - (f % 4);
  let i = 0;
  for (; i < n4; i += 4) {
    s0 += Math.abs(v[a + i] - v[b + i]);
    s1 += Math.abs(v[a + i + 1] - v[b + i + 1]);
    s2 += Math.abs(v[a + i + 2] - v[b + i + 2]);
    s3 += Math.abs(v[a + i + 3] - v[b + i + 3]);
  }
  for (; i < f; i++) s0 += Math.abs(v[a + i] - v[b + i]);
  return (s0 + s1) + (s2 + s3);
}

// Query-side variants: the query is held as doubles so the hot loop converts only the stored side.
function queryDot(q: Float64Array, v: Float32Array, o: number, f: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const n4 = f - (f % 4);
  let i = 0;
  for (; i < n4; i += 4) {
    s0 += q[i] * v[o + i];
    s1 += q[i + 1] * v[o + i + 1];
    s2 += q[i + 2] * v[o + i + 2];
    s3 += q[i + 3] * v[o + i + 3];
  }
  for (; i < f; i++) s0 += q[i] * v[o + i];
  return (s0 + s1) + (s2 + s3);
}

function queryL2(q: Float64Array, v: Float32Array, o: number, f: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const n4 = f - (f % 4);
  let i = 0;
  for (; i < n4; i += 4) {
    const d0 = q[i] - v[o + i];
    const d1 = q[i + 1] - v[o + i + 1];
    const d2 = q[i + 2] - v[o + i + 2];
    const d3 = q[i + 3] - v[o + i + 3];
    s0 += d0 * d0;
    s1 += d1 * d1;
    s2 += d2 * d2;
    s3 += d3 * d3;
  }
  for (; i < f; i++) {
    const d = q[i] - v[o + i];
    s0 += d * d;
  }
  return (s0 + s1) + (s2 + s3);
}

function queryL1(q: Float64Array, v: Float32Array, o: number, f: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const n4 = f - (f % 4);
  let i = 0;
  for (; i < n4; i += 4) {
    s0 += Math.abs(q[i] - v[o + i]);
    s1 += Math.abs(q[i + 1] - v[o + i + 1]);
    s2 += Math.abs(q[i + 2] - v[o + i + 2]);
    s3 += Math.abs(q[i + 3] - v[o + i + 3]);
  }
  for (; i < f; i++) s0 += Math.abs(q[i] - v[o + i]);
  return (s0 + s1) + (s2 + s3);
}

class JsSession implements KernelSession {
  private readonly q: Float64Array;

  constructor(
    private readonly v: Float32Array,
    private readonly f: number,
    query: Float32Array,
  ) {
    if (query.length !== f) throw new RangeError(`query has ${query.length} values, expected ${f}`);
    this.q = new Float64Array(query);
  }

  dot(vByte: number): number {
    return queryDot(this.q, this.v, vByte / 4, this.f);
  }

  /** Always exact: plain JS gains nothing from stopping early, so `bound` is not used. */
  batch(op: BatchOp, ids: Int32Array, from: number, to: number, nodeBase: number, nodeBytes: number, vOffset: number, out: Float64Array, _bound: number): void {
    const { q, v, f } = this;
    // Element arithmetic in doubles stays exact far beyond 2^32 bytes.
    const base = (nodeBase + vOffset) / 4;
    const stride = nodeBytes / 4;
    // One loop per op keeps each call site monomorphic, so V8 can inline the kernel.
    switch (op) {
      case 'dot':
        for (let k = from; k < to; k++) out[k] = queryDot(q, v, base + ids[k] * stride, f);
        return;
      case 'l2':
        for (let k = from; k < to; k++) out[k] = queryL2(q, v, base + ids[k] * stride, f);
        return;
      case 'l1':
        for (let k = from; k < to; k++) out[k] = queryL1(q, v, base + ids[k] * stride, f);
        return;
    }
  }

  release(): void {
    // Nothing to return: the query copy is ordinary garbage.
  }
}

/** Kernels in plain TypeScript over any storage buffer (ArrayBuffer or SharedArrayBuffer, any size a Float32Array can span). */
export function createJsKernels(storage: IndexStorage, f: number): VectorKernels {
  const v = new Float32Array(storage.buffer, 0, Math.floor(storage.buffer.byteLength / 4));
  return {
    kind: 'js',
    open: (query) => new JsSession(v, f, query),
    dotStored: (aByte, bByte) => storedDot(v, aByte / 4, bByte / 4, f),
    l2Stored: (aByte, bByte) => storedL2(v, aByte / 4, bByte / 4, f),
    l1Stored: (aByte, bByte) => storedL1(v, aByte / 4, bByte / 4, f),
  };
}
