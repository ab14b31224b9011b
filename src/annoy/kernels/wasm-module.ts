import type { TwoMeansMode } from './kernels.js';
import { KERNELS_WASM_BASE64 } from './kernels-wasm.generated.js';

/*
 * The compiled kernels.wat, shared by the in-place kernels (wasm-kernels.ts) and the gathering
 * kernels (gather-kernels.ts). The module imports one shared memory; each thread instantiates it
 * once per memory it reads.
 */

type Kernel3 = (a: number, b: number, f: number) => number;
type BatchKernel = (q: number, ids: number, count: number, base: number, nodeBytes: number, vOffset: number, f: number, out: number, bound: number) => void;

export interface KernelExports {
  dot: Kernel3;
  l2: Kernel3;
  l1: Kernel3;
  batch_dot: BatchKernel;
  batch_l2: BatchKernel;
  batch_l1: BatchKernel;
  two_means(
    samples: number, base: number, nodeBytes: number, vOffset: number, f: number,
    mode: number, extraOffset: number, p: number, q: number, extras: number,
  ): void;
}

/** The numbering of two_means modes in kernels.wat. */
export const TWO_MEANS_MODE: Readonly<Record<TwoMeansMode, number>> = { angular: 0, dot: 1, euclidean: 2, manhattan: 3 };

/** undefined: not tried yet; null: this runtime cannot compile the module (no SIMD or threads). */
let compiled: WebAssembly.Module | null | undefined;

function kernelModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    const bytes = Uint8Array.from(atob(KERNELS_WASM_BASE64), (c) => c.charCodeAt(0));
    compiled = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  }
  return compiled;
}

/** Whether this runtime can run the SIMD kernels (validates and compiles the module once per thread). */
export function wasmKernelsSupported(): boolean {
  return kernelModule() !== null;
}

/** The kernels instantiated over `memory` (a shared WebAssembly memory); throws without SIMD support. */
export function instantiateKernels(memory: WebAssembly.Memory): KernelExports {
  const module = kernelModule();
  if (module === null) throw new Error('WebAssembly SIMD kernels are not supported by this runtime');
  return new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as KernelExports;
}
