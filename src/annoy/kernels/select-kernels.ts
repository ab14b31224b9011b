import type { IndexStorage } from '../storage.js';
import type { VectorKernels } from './kernels.js';
import { createJsKernels } from './js-kernels.js';
import { createWasmKernels, wasmKernelsSupported } from './wasm-kernels.js';

/**
 * The kernels for one storage: WebAssembly SIMD when the storage lives in a WebAssembly memory and
 * the runtime supports SIMD, else plain JS. NNSERVE_KERNELS=js forces JS (comparisons, benchmarks).
 */
export function createKernels(storage: IndexStorage, f: number): VectorKernels {
  const forceJs = globalThis.process?.env?.NNSERVE_KERNELS === 'js';
  if (!forceJs && storage.memory !== undefined && wasmKernelsSupported()) return createWasmKernels(storage, f);
  return createJsKernels(storage, f);
}
