import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { allocateStorage, storageBytes } from '../../src/annoy/index.js';
import { createKernels } from '../../src/annoy/kernels/select-kernels.js';
import { row, rows, type Dataset } from './datasets.js';
import { DATA_DIR } from './results.js';

function normalized(vectors: Float32Array, dimensions: number): Float32Array {
  const out = new Float32Array(vectors.length);
  for (let r = 0; r < vectors.length / dimensions; r++) {
    let norm = 0;
    for (let z = 0; z < dimensions; z++) norm += vectors[r * dimensions + z] ** 2;
    const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let z = 0; z < dimensions; z++) out[r * dimensions + z] = vectors[r * dimensions + z] * scale;
  }
  return out;
}

export function truthFile(ds: Dataset, k: number): string {
  return join(DATA_DIR, `${ds.key}.truth${k}.i32`);
}

/**
 * Exact k nearest neighbours of every query by brute force (the engine's SIMD l2 kernel over all
 * rows; angular compares unit vectors, whose l2 order is the cosine order). Cached in bench/data,
 * since Fashion-MNIST takes seconds. Returns k int32 ids per query.
 */
export function groundTruth(ds: Dataset, k: number, log: (line: string) => void = () => {}): Int32Array {
  if (ds.metric !== 'euclidean' && ds.metric !== 'angular') throw new Error(`ground truth for ${ds.metric} is not implemented`);
  const file = truthFile(ds, k);
  if (existsSync(file)) {
    const bytes = readFileSync(file);
    return new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  }
  const started = performance.now();
  const f = ds.dimensions;
  const train = ds.metric === 'angular' ? normalized(ds.train, f) : ds.train;
  const queries = ds.metric === 'angular' ? normalized(ds.queries, f) : ds.queries;
  const n = rows(train, f);
  const storage = allocateStorage(train.byteLength);
  storageBytes(storage).set(new Uint8Array(train.buffer, train.byteOffset, train.byteLength));
  const kernels = createKernels(storage, f);
  const ids = Int32Array.from({ length: n }, (_, i) => i);
  const distances = new Float64Array(n);
  const nq = rows(queries, f);
  const truth = new Int32Array(nq * k);
  const order = new Int32Array(n);
  for (let q = 0; q < nq; q++) {
    const session = kernels.open(row(queries, f, q));
    session.batch('l2', ids, 0, n, storage.byteOffset, f * 4, 0, distances, Infinity);
    session.release();
    // Partial selection: keep the k best seen so far in a small sorted list.
    let count = 0;
    for (let i = 0; i < n; i++) {
      const d = distances[i];
      if (count === k && d >= distances[order[k - 1]]) continue;
      let pos = count < k ? count++ : k - 1;
      while (pos > 0 && (distances[order[pos - 1]] > d || (distances[order[pos - 1]] === d && order[pos - 1] > i))) {
        order[pos] = order[pos - 1];
        pos--;
      }
      order[pos] = i;
    }
    truth.set(order.subarray(0, k), q * k);
  }
  writeFileSync(file, new Uint8Array(truth.buffer));
  log(`ground truth for ${ds.key}: ${nq} queries × ${n} rows in ${((performance.now() - started) / 1000).toFixed(1)} s (cached in ${file})`);
  return truth;
}

/** recall@k: the share of true neighbours found, averaged over queries (Annoy's / ann-benchmarks' definition). */
export function recall(found: Int32Array, truth: Int32Array, k: number): number {
  const nq = truth.length / k;
  let hits = 0;
  for (let q = 0; q < nq; q++) {
    const want = new Set(truth.subarray(q * k, (q + 1) * k));
    for (let j = 0; j < k; j++) if (want.has(found[q * k + j])) hits++;
  }
  return hits / (nq * k);
}

/** Share of result slots where both engines returned the same id at the same rank. */
export function identical(a: Int32Array, b: Int32Array): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}
