import type { IndexStorage } from '../storage.js';
import type { VectorKernels } from './kernels.js';
import { createJsKernels } from './js-kernels.js';
import { createGatherKernels, GATHER_MAX_DIMENSIONS } from './gather-kernels.js';
import { createWasmKernels } from './wasm-kernels.js';
import { wasmKernelsSupported } from './wasm-module.js';

/**
 * From this many dimensions on, copying vectors into scratch and running SIMD beats plain JS on
 * storage the kernels cannot address. Measured per candidate out of a 200 MB storage (l2, this
 * machine): f = 64 gather 131 ns vs JS 95 ns; f = 128 212 vs 206; f = 256 245 vs 352; f = 784 459
 * vs 1,019. Below, the view each copy needs costs more than the SIMD arithmetic saves.
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
