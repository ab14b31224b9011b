import { CONTROL_BYTES, SCRATCH_SLOTS, SCRATCH_SLOT_BYTES, type IndexStorage } from '../storage.js';
import { TWO_MEANS_SAMPLES, type BatchOp, type KernelSession, type VectorKernels } from './kernels.js';
import { createGatherKernels, GATHER_MAX_DIMENSIONS } from './gather-kernels.js';
import { createJsKernels } from './js-kernels.js';
import { instantiateKernels, TWO_MEANS_MODE, type KernelExports } from './wasm-module.js';

/*
 * WebAssembly SIMD kernels reading vectors in place from the storage's shared WebAssembly memory.
 *
 * The kernels only see that memory, so a query must be copied into it first: the area after the
 * control block is cut into SCRATCH_SLOTS slots, and the first CONTROL_BYTES hold one Int32 busy
 * flag per slot. Every worker thread shares the memory, hence a slot is claimed with
 * Atomics.compareExchange and freed with Atomics.store. A slot holds the query (rounded up to 16
 * bytes) followed by a chunk of candidate ids (i32) and their results (f64, see kernels.wat);
 * two_means borrows a slot the same way for its sample ids and centroids.
 * A crashed thread that held a slot leaks it; sessions that find no free slot run the gathering
 * kernels (same answers, bit for bit, a little slower).
 */

/** One instance per WebAssembly.Memory per thread, with views over the whole memory. */
interface Bound {
  readonly exports: KernelExports;
  readonly flags: Int32Array;
  readonly f32: Float32Array;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
}

/** two_means scratch layout: the sample ids, padded so the centroids after them are 16-byte aligned. */
const SAMPLES_BYTES = Math.ceil((TWO_MEANS_SAMPLES * 4) / 16) * 16;

/** A query larger than this would leave no room in its slot for a useful chunk of ids. */
const MAX_QUERY_BYTES = SCRATCH_SLOT_BYTES / 2;

const bound = new WeakMap<WebAssembly.Memory, Bound>();
/**
 * Where this thread starts looking for a free slot: the last slot it used (usually free again and
 * warm in cache). Starting at a random slot spreads threads over different slots from the first query.
 */
let slotHint = Math.floor(Math.random() * SCRATCH_SLOTS);

function bind(memory: WebAssembly.Memory): Bound {
  let b = bound.get(memory);
  if (b === undefined) {
    const exports = instantiateKernels(memory);
    // A builder's memory may grow later (growStorage): these views cover only the pages of now, which
    // is enough because they touch nothing but the control block and scratch slots at the start.
    const buffer = memory.buffer;
    b = {
      exports,
      flags: new Int32Array(buffer, 0, SCRATCH_SLOTS),
      f32: new Float32Array(buffer),
      i32: new Int32Array(buffer),
      f64: new Float64Array(buffer),
    };
    bound.set(memory, b);
  }
  return b;
}

function claimSlot(flags: Int32Array): number {
  for (let k = 0; k < SCRATCH_SLOTS; k++) {
    const slot = (slotHint + k) % SCRATCH_SLOTS;
    if (Atomics.compareExchange(flags, slot, 0, 1) === 0) {
      slotHint = slot;
      return slot;
    }
  }
  return -1;
}

class WasmSession implements KernelSession {
  private readonly qPtr: number;
  private readonly idsPtr: number;
  private readonly outPtr: number;
  /**
   * Ids per kernel call, a multiple of 8: the kernels score groups of 8 and finish the rest one by one
   * (summing dot in another order), so only the batch's own tail, never a chunk boundary, takes that path.
   */
  private readonly chunk: number;
  private released = false;

  constructor(
    private readonly b: Bound,
    private readonly f: number,
    private readonly slot: number,
    query: Float32Array,
  ) {
    this.qPtr = CONTROL_BYTES + slot * SCRATCH_SLOT_BYTES;
    const qBytes = Math.ceil((f * 4) / 16) * 16;
    this.chunk = Math.floor((SCRATCH_SLOT_BYTES - qBytes) / (8 * 12)) * 8;
    this.idsPtr = this.qPtr + qBytes;
    this.outPtr = this.idsPtr + this.chunk * 4;
    b.f32.set(query, this.qPtr / 4);
  }

  dot(vByte: number): number {
    if (this.released) throw new Error('kernel session used after release()');
    return this.b.exports.dot(this.qPtr, vByte, this.f);
  }

  batch(op: BatchOp, ids: Int32Array, from: number, to: number, nodeBase: number, nodeBytes: number, vOffset: number, out: Float64Array, bound: number): void {
    if (this.released) throw new Error('kernel session used after release()');
    const { i32, f64, exports } = this.b;
    const kernel = op === 'dot' ? exports.batch_dot : op === 'l2' ? exports.batch_l2 : exports.batch_l1;
    const { qPtr, idsPtr, outPtr, chunk, f } = this;
    const ids32 = idsPtr / 4;
    const out64 = outPtr / 8;
    // Element-wise copies instead of set(subarray()): no view objects allocated per chunk.
    for (let start = from; start < to; start += chunk) {
      const n = Math.min(chunk, to - start);
      for (let k = 0; k < n; k++) i32[ids32 + k] = ids[start + k];
      kernel(qPtr, idsPtr, n, nodeBase, nodeBytes, vOffset, f, outPtr, bound);
      for (let k = 0; k < n; k++) out[start + k] = f64[out64 + k];
    }
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    Atomics.store(this.b.flags, this.slot, 0);
  }
}

/**
 * SIMD kernels over a storage whose buffer is a shared WebAssembly memory (`storage.memory`).
 * Throws when the storage has no memory or the runtime lacks SIMD; use createKernels to choose.
 */
export function createWasmKernels(storage: IndexStorage, f: number): VectorKernels {
  if (storage.memory === undefined) throw new Error('storage is not a WebAssembly memory');
  const b = bind(storage.memory);
  const { exports } = b;
  const querySlotsUsable = f * 4 <= MAX_QUERY_BYTES;
  // Centroids p and q, then their two f64 extras, after the sample ids.
  const centroidBytes = Math.ceil((f * 4) / 16) * 16;
  const twoMeansFits = SAMPLES_BYTES + 2 * centroidBytes + 16 <= SCRATCH_SLOT_BYTES;
  let overflow: { kernels: VectorKernels; bytes: number } | undefined;
  /**
   * For a session or two_means that finds every slot taken (more threads than slots, or slots lost
   * with crashed threads): the gathering kernels, which run the same code on this thread's own
   * scratch, so answers do not change with load; plain JS (whose sums round differently) only
   * past their size limit. Made again when a builder's memory has grown since.
   */
  const overflowKernels = (): VectorKernels => {
    const buffer = storage.memory!.buffer as unknown as SharedArrayBuffer;
    if (overflow === undefined || overflow.bytes !== buffer.byteLength) {
      const current: IndexStorage = { ...storage, buffer };
      overflow = { kernels: f <= GATHER_MAX_DIMENSIONS ? createGatherKernels(current, f) : createJsKernels(current, f), bytes: buffer.byteLength };
    }
    return overflow.kernels;
  };

  return {
    kind: 'wasm-simd',
    open(query: Float32Array): KernelSession {
      if (query.length !== f) throw new RangeError(`query has ${query.length} values, expected ${f}`);
      const slot = querySlotsUsable ? claimSlot(b.flags) : -1;
      return slot < 0 ? overflowKernels().open(query) : new WasmSession(b, f, slot, query);
    },
    dotStored: (aByte, bByte) => exports.dot(aByte, bByte, f),
    l2Stored: (aByte, bByte) => exports.l2(aByte, bByte, f),
    l1Stored: (aByte, bByte) => exports.l1(aByte, bByte, f),
    twoMeans(samples, mode, nodeBase, nodeBytes, vOffset, extraOffset, p, q) {
      if (samples.length !== TWO_MEANS_SAMPLES) throw new RangeError(`two_means takes ${TWO_MEANS_SAMPLES} samples, got ${samples.length}`);
      if (p.length !== f || q.length !== f) throw new RangeError(`centroids must have ${f} values`);
      const slot = twoMeansFits ? claimSlot(b.flags) : -1;
      if (slot < 0) return overflowKernels().twoMeans?.(samples, mode, nodeBase, nodeBytes, vOffset, extraOffset, p, q);
      try {
        const samplesPtr = CONTROL_BYTES + slot * SCRATCH_SLOT_BYTES;
        const pPtr = samplesPtr + SAMPLES_BYTES;
        const qPtr = pPtr + centroidBytes;
        const extrasPtr = qPtr + centroidBytes;
        const { i32, f32, f64 } = b;
        const s32 = samplesPtr / 4;
        for (let k = 0; k < TWO_MEANS_SAMPLES; k++) i32[s32 + k] = samples[k];
        exports.two_means(samplesPtr, nodeBase, nodeBytes, vOffset, f, TWO_MEANS_MODE[mode], extraOffset, pPtr, qPtr, extrasPtr);
        const p32 = pPtr / 4;
        const q32 = qPtr / 4;
        for (let z = 0; z < f; z++) {
          p[z] = f32[p32 + z];
          q[z] = f32[q32 + z];
        }
        return { pExtra: f64[extrasPtr / 8], qExtra: f64[extrasPtr / 8 + 1] };
      } finally {
        Atomics.store(b.flags, slot, 0);
      }
    },
  };
}
