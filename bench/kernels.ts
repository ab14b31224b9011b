// ns per distance for the JS, WASM SIMD in-place and WASM SIMD gathering kernels (squared L2, plus dot
// via single calls). The gathering kernels read the same memory as a plain buffer, as for an index over 4 GiB.
// Run: npm run build && node dist/bench/kernels.js   (best of several passes; the machine is noisy)
import { allocateStorage } from '../src/annoy/storage.js';
import type { VectorKernels } from '../src/annoy/kernels/kernels.js';
import { createJsKernels } from '../src/annoy/kernels/js-kernels.js';
import { createWasmKernels } from '../src/annoy/kernels/wasm-kernels.js';
import { createGatherKernels } from '../src/annoy/kernels/gather-kernels.js';

const DIMS = [40, 100, 256, 784];
// Default larger than the caches, like a real index; `node dist/bench/kernels.js 2` gives 2 MiB (cache-resident).
const TARGET_BYTES = Number(process.argv[2] ?? 48) * 1024 * 1024;
const PASSES = 7;

/** Warms up long enough for V8 to tier JS and wasm up to optimized code, then takes the best of PASSES timed passes. */
function bestNs(run: () => void, distances: number): number {
  const now = () => Number(process.hrtime.bigint());
  for (const start = now(); now() - start < 200e6; ) run();
  let best = Infinity;
  for (let p = 0; p < PASSES; p++) {
    let reps = 0;
    const t0 = now();
    let elapsed = 0;
    do {
      run();
      reps++;
      elapsed = now() - t0;
    } while (elapsed < 30e6);
    best = Math.min(best, elapsed / (reps * distances));
  }
  return best;
}

function measure(k: VectorKernels, f: number, nodes: number, base: number, nodeBytes: number, vOffset: number) {
  const q = new Float32Array(f).map(() => Math.random() * 2 - 1);
  const ids = Int32Array.from({ length: nodes }, (_, i) => i);
  const shuffled = ids.slice();
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
  }
  const out = new Float64Array(nodes);
  const s = k.open(q);
  const batchSeq = bestNs(() => s.batch('l2', ids, 0, nodes, base, nodeBytes, vOffset, out, Infinity), nodes);
  const batchRandom = bestNs(() => s.batch('l2', shuffled, 0, nodes, base, nodeBytes, vOffset, out, Infinity), nodes);
  let sink = 0;
  const single = bestNs(() => {
    for (let i = 0; i < nodes; i++) sink += s.dot(base + i * nodeBytes + vOffset);
  }, nodes);
  s.release();
  if (sink === 42) console.log('');
  return { batchSeq, batchRandom, single };
}

const rows: string[] = [];
for (const f of DIMS) {
  const vOffset = 16; // Annoy euclidean node header
  const nodeBytes = vOffset + f * 4;
  const nodes = Math.floor(TARGET_BYTES / nodeBytes);
  const storage = allocateStorage(nodes * nodeBytes);
  const all = new Float32Array(storage.buffer, storage.byteOffset, (nodes * nodeBytes) / 4);
  for (let i = 0; i < all.length; i++) all[i] = Math.random() * 2 - 1;
  for (const [name, k] of [['js', createJsKernels(storage, f)], ['wasm-simd', createWasmKernels(storage, f)], ['wasm-simd-gather', createGatherKernels(storage, f)]] as const) {
    const r = measure(k, f, nodes, storage.byteOffset, nodeBytes, vOffset);
    rows.push(`| ${name} | ${f} | ${nodes} | ${r.batchSeq.toFixed(1)} | ${r.batchRandom.toFixed(1)} | ${r.single.toFixed(1)} |`);
  }
}
console.log('ns per distance, best of', PASSES, 'passes over', TARGET_BYTES >> 20, 'MiB of nodes');
console.log('| kernel | f | vectors | batch l2, ids in order | batch l2, shuffled ids | dot(), one call each |');
console.log('|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
