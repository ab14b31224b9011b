import type { IndexStorage } from '../storage.js';

/** Which batch distance to compute between the query and each item vector. */
export type BatchOp = 'dot' | 'l2' | 'l1';

/**
 * Which distance Annoy's two_means uses and how it averages: 'angular' and 'dot' normalise points
 * (dot with its extra coordinate, the node's dot_factor), 'euclidean' and 'manhattan' do not.
 */
export type TwoMeansMode = 'angular' | 'dot' | 'euclidean' | 'manhattan';

/** Item ids two_means reads: the two seeds, then one per iteration (kernels.wat's two_means assumes 200). */
export const TWO_MEANS_ITERATIONS = 200;
export const TWO_MEANS_SAMPLES = 2 + TWO_MEANS_ITERATIONS;

/**
 * Vector arithmetic for one query over one storage. The engine opens a session per query
 * (the query vector is copied where the kernel can read it), asks for margins during the tree walk
 * and batched distances over the de-duplicated candidates, then releases the session.
 * All offsets are byte offsets into `storage.buffer` (absolute, already including storage.byteOffset).
 */
export interface KernelSession {
  /** dot(query, the `f` float32 values at byte offset `vByte`). */
  dot(vByte: number): number;
  /**
   * For i in [from, to): out[i] = op(query, vector of node ids[i]), where that vector starts at byte
   * `nodeBase + ids[i] * nodeBytes + vOffset`. op: 'dot' = Σ q·v, 'l2' = Σ (q−v)², 'l1' = Σ |q−v|.
   * For 'l2' and 'l1', a result above `bound` may come back as +Infinity instead: the kernel may stop
   * reading a vector once its partial sum of non-negative terms has passed the bound. Results at or
   * below the bound are always exact; pass Infinity for exact results everywhere.
   */
  batch(op: BatchOp, ids: Int32Array, from: number, to: number, nodeBase: number, nodeBytes: number, vOffset: number, out: Float64Array, bound: number): void;
  /** Returns scratch space; the session must not be used afterwards. */
  release(): void;
}

/** Kernels bound to one storage and one dimension count `f` (float32 vectors). */
export interface VectorKernels {
  /** 'wasm-simd': in place in a WebAssembly memory; 'wasm-simd-gather': copies through scratch (gather-kernels.ts); 'js': plain TypeScript. */
  readonly kind: 'wasm-simd' | 'wasm-simd-gather' | 'js';
  open(query: Float32Array): KernelSession;
  /** dot of two stored vectors (both byte offsets absolute); used by get_distance and the builder. */
  dotStored(aByte: number, bByte: number): number;
  l2Stored(aByte: number, bByte: number): number;
  l1Stored(aByte: number, bByte: number): number;
  /**
   * Annoy's two_means over pre-drawn item ids (`samples`: TWO_MEANS_SAMPLES ids, seeds first).
   * Node `id` starts at byte `nodeBase + id * nodeBytes`, its vector at `+ vOffset`; `extraOffset`
   * locates the f32 the mode needs (angular: stored |v|², dot: dot_factor; ignored otherwise).
   * Writes the centroids into `p` and `q` (length f) and returns their extra coordinates, or
   * returns undefined having done nothing (no scratch space free, f too large): the caller then
   * runs its own loop. Kernels without a fast path leave this out.
   */
  twoMeans?(
    samples: Int32Array,
    mode: TwoMeansMode,
    nodeBase: number,
    nodeBytes: number,
    vOffset: number,
    extraOffset: number,
    p: Float32Array,
    q: Float32Array,
  ): { pExtra: number; qExtra: number } | undefined;
}

/** Chooses the kernels for a storage (select-kernels.ts). */
export type KernelFactory = (storage: IndexStorage, f: number) => VectorKernels;
