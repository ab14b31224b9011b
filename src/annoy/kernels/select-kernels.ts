import type { IndexStorage } from '../storage.js';
import type { VectorKernels } from './kernels.js';
import { createJsKernels } from './js-kernels.js';
import { createGatherKernels, GATHER_MAX_DIMENSIONS } from './gather-kernels.js';
import { createWasmKernels } from './wasm-kernels.js';
import { wasmKernelsSupported } from './wasm-module.js';

/**
 * From this many dimensions on, copying vectors into scratch and running SIMD beats plain JS on
 * storage the kernels cannot address. Measured per candidate (l2, random ids): out of 400 MB,
 * f = 128 gather 263 ns vs JS 341, f = 256 431 vs 680, f = 784 1,047 vs 1,741; out of 48 MiB
 * (`bench/kernels.ts`), f = 40 292 vs 226 and f = 100 389 vs 368. Below ~128 the view each copy
 * needs costs more than the SIMD arithmetic saves.
 */
export const GATHER_MIN_DIMENSIONS = 160;

/**
 * The kernels for one storage: WebAssembly SIMD in place when the storage lives in a WebAssembly
 * memory; SIMD over gathered copies when it does not (indexes over 4 GiB) and vectors are long
 * enough to pay for the copies; else plain JS. Without SIMD support, always JS.
 * NNSERVE_KERNELS=js forces JS and NNSERVE_KERNELS=gather forces gathering for plain buffers
 * (comparisons, benchmarks, tests).
 */
export function createKernels(storage: IndexStorage, f: number): VectorKernels {
  const choice = globalThis.process?.env?.NNSERVE_KERNELS;
  if (choice === 'js' || !wasmKernelsSupported()) return createJsKernels(storage, f);
  if (storage.memory !== undefined) return createWasmKernels(storage, f);
  const gather = f <= GATHER_MAX_DIMENSIONS && (choice === 'gather' || f >= GATHER_MIN_DIMENSIONS);
  return gather ? createGatherKernels(storage, f) : createJsKernels(storage, f);
}
