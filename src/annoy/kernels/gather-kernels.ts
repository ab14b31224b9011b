import type { IndexStorage } from '../storage.js';
import { TWO_MEANS_SAMPLES, type BatchOp, type KernelSession, type VectorKernels } from './kernels.js';
import { createJsKernels } from './js-kernels.js';
import { instantiateKernels, TWO_MEANS_MODE, type KernelExports } from './wasm-module.js';

/*
 * WebAssembly SIMD kernels for a storage the kernels cannot address: a plain (Shared)ArrayBuffer,
 * which is what an index over 4 GiB lives in (a WebAssembly memory without memory64 stops at 4 GiB).
 *
 * Each thread owns one small scratch memory. The vectors an operation reads are copied into it
 * (a chunk of candidates at a time), then the same kernels as for in-place storage run over the
 * copies, so every result is bit-identical to the in-place kernels on the same bytes. A copy costs
 * one typed-array view per vector, which outweighs the SIMD gain for short vectors: see
 * GATHER_MIN_DIMENSIONS and select-kernels.ts.
 *
 * Scratch layout (byte offsets): the query at 0; ids 0..255 at IDS (they index the gathered copies,
 * and the first 202 double as two_means' sample ids); the f64 results at OUT; the two_means
 * centroids and extras; the gathered vectors or node records from VECTORS to the end.
 */

/** Largest vector the query area holds (64 KiB of float32). */
export const GATHER_MAX_DIMENSIONS = 16384;
const QUERY = 0;
const IDS = 64 * 1024;
const MAX_CHUNK = 256;
const OUT = IDS + MAX_CHUNK * 4;
const P = OUT + MAX_CHUNK * 8;
const Q = P + GATHER_MAX_DIMENSIONS * 4;
const EXTRAS = Q + GATHER_MAX_DIMENSIONS * 4;
const VECTORS = 256 * 1024;
const SCRATCH_PAGES = 256; // 16 MiB, committed only where touched
const SCRATCH_BYTES = SCRATCH_PAGES * 64 * 1024;
/** A batch copies about this many bytes of vectors per kernel call: the copies are still in L2 when the kernel reads them. */
const CHUNK_BYTES = 256 * 1024;

/** This thread's scratch memory, its kernels and views, and whether a session holds the query area. */
interface Scratch {
  readonly exports: KernelExports;
  readonly f32: Float32Array;
  readonly f64: Float64Array;
  sessionOpen: boolean;
  /** Where gather() leaves the sum of the values it touched, so the compiler keeps the loads. */
  sink: number;
}

let scratch: Scratch | undefined;

function threadScratch(): Scratch {
  if (scratch === undefined) {
    const memory = new WebAssembly.Memory({ initial: SCRATCH_PAGES, maximum: SCRATCH_PAGES, shared: true });
    const buffer = memory.buffer;
    const ids = new Int32Array(buffer, IDS, MAX_CHUNK);
    for (let k = 0; k < MAX_CHUNK; k++) ids[k] = k;
    scratch = { exports: instantiateKernels(memory), f32: new Float32Array(buffer), f64: new Float64Array(buffer), sessionOpen: false, sink: 0 };
  }
  return scratch;
}

const align16 = (bytes: number): number => Math.ceil(bytes / 16) * 16;

/** Copies `count` float32 from element `from` of `src` to byte `toByte` of the scratch memory. */
function copy(src: Float32Array, from: number, count: number, dst: Float32Array, toByte: number): void {
  dst.set(src.subarray(from, from + count), toByte / 4);
}

/**
 * Copies `count` float32 from element `base + ids[k] * nodeFloats` of `v`, for k in [from, from + n),
 * to scratch bytes `toByte + (k - from) * stride`. Reading every vector's first element before
 * copying any lets the CPU wait for those cache misses in parallel: 15-20 % fewer ns per vector out
 * of a 400 MB buffer than copying straight away (touching every line instead was slower).
 */
function gather(s: Scratch, v: Float32Array, ids: Int32Array, from: number, n: number, base: number, nodeFloats: number, count: number, toByte: number, stride: number): void {
  let sum = 0;
  for (let k = 0; k < n; k++) sum += v[base + ids[from + k] * nodeFloats];
  s.sink = sum;
  for (let k = 0; k < n; k++) copy(v, base + ids[from + k] * nodeFloats, count, s.f32, toByte + k * stride);
}

class GatherSession implements KernelSession {
  private released = false;

  constructor(
    private readonly s: Scratch,
    private readonly v: Float32Array,
    private readonly f: number,
    /** Bytes between gathered vectors, and how many fit in one chunk. */
    private readonly stride: number,
    private readonly chunk: number,
    query: Float32Array,
  ) {
    s.sessionOpen = true;
    s.f32.set(query, QUERY / 4);
  }

  dot(vByte: number): number {
    if (this.released) throw new Error('kernel session used after release()');
    copy(this.v, vByte / 4, this.f, this.s.f32, VECTORS);
    return this.s.exports.dot(QUERY, VECTORS, this.f);
  }

  batch(op: BatchOp, ids: Int32Array, from: number, to: number, nodeBase: number, nodeBytes: number, vOffset: number, out: Float64Array, bound: number): void {
    if (this.released) throw new Error('kernel session used after release()');
    const { s, v, f, stride, chunk } = this;
    const { exports, f64 } = s;
    const kernel = op === 'dot' ? exports.batch_dot : op === 'l2' ? exports.batch_l2 : exports.batch_l1;
    // Element indices in doubles: exact far beyond 2^32 bytes.
    const base = (nodeBase + vOffset) / 4;
    const nodeFloats = nodeBytes / 4;
    for (let start = from; start < to; start += chunk) {
      const n = Math.min(chunk, to - start);
      gather(s, v, ids, start, n, base, nodeFloats, f, VECTORS, stride);
      kernel(QUERY, IDS, n, VECTORS, stride, 0, f, OUT, bound);
      for (let k = 0; k < n; k++) out[start + k] = f64[OUT / 8 + k];
    }
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.s.sessionOpen = false;
  }
}

/**
 * SIMD kernels over any storage, reading through this thread's scratch memory (1 ≤ f ≤
 * GATHER_MAX_DIMENSIONS). One session per thread at a time uses the scratch; a second one opened
 * while it is held gets the JS kernels. Throws when the runtime lacks SIMD.
 */
export function createGatherKernels(storage: IndexStorage, f: number): VectorKernels {
  if (!(f >= 1 && f <= GATHER_MAX_DIMENSIONS)) throw new RangeError(`gather kernels take 1 to ${GATHER_MAX_DIMENSIONS} dimensions, got ${f}`);
  const s = threadScratch();
  const v = new Float32Array(storage.buffer, 0, Math.floor(storage.buffer.byteLength / 4));
  const stride = align16(f * 4);
  // A multiple of 8, as in-place chunks are (wasm-kernels.ts): groups of 8 fall on the same ids.
  const chunk = Math.max(8, Math.min(MAX_CHUNK, Math.floor(CHUNK_BYTES / stride / 8) * 8));
  const { exports, f32, f64 } = s;
  let fallback: VectorKernels | undefined;
  const stored = (kernel: (a: number, b: number, f: number) => number) => (aByte: number, bByte: number): number => {
    copy(v, aByte / 4, f, f32, VECTORS);
    copy(v, bByte / 4, f, f32, VECTORS + stride);
    return kernel(VECTORS, VECTORS + stride, f);
  };

  return {
    kind: 'wasm-simd-gather',
    open(query: Float32Array): KernelSession {
      if (query.length !== f) throw new RangeError(`query has ${query.length} values, expected ${f}`);
      if (s.sessionOpen) return (fallback ??= createJsKernels(storage, f)).open(query);
      return new GatherSession(s, v, f, stride, chunk, query);
    },
    dotStored: stored(exports.dot),
    l2Stored: stored(exports.l2),
    l1Stored: stored(exports.l1),
    twoMeans(samples, mode, nodeBase, nodeBytes, vOffset, extraOffset, p, q) {
      if (samples.length !== TWO_MEANS_SAMPLES) throw new RangeError(`two_means takes ${TWO_MEANS_SAMPLES} samples, got ${samples.length}`);
      if (p.length !== f || q.length !== f) throw new RangeError(`centroids must have ${f} values`);
      // Whole node records, so the vector and the extra coordinate keep their offsets.
      const recordStride = align16(nodeBytes);
      if (VECTORS + TWO_MEANS_SAMPLES * recordStride > SCRATCH_BYTES) return undefined;
      const nodeFloats = nodeBytes / 4;
      gather(s, v, samples, 0, TWO_MEANS_SAMPLES, nodeBase / 4, nodeFloats, nodeFloats, VECTORS, recordStride);
      exports.two_means(IDS, VECTORS, recordStride, vOffset, f, TWO_MEANS_MODE[mode], extraOffset, P, Q, EXTRAS);
      p.set(f32.subarray(P / 4, P / 4 + f));
      q.set(f32.subarray(Q / 4, Q / 4 + f));
      return { pExtra: f64[EXTRAS / 8], qExtra: f64[EXTRAS / 8 + 1] };
    },
  };
}
