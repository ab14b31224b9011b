import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AnnoyIndex } from '../../src/annoy/index.js';
import { readIndexFile, readIndexFileInto } from '../../src/index-files/read-storage.js';
import type { IndexStorage } from '../../src/annoy/storage.js';
import { annoyBuild } from './annoy-ref.js';
import { row, rows, type Dataset } from './datasets.js';
import { DATA_DIR } from './results.js';

export interface SearchRun {
  /** n ids per query, -1 where fewer came back. */
  ids: Int32Array;
  qps: number;
  seconds: number;
  /** Mean unique candidates scored per query. */
  candidates: number;
}

/** Queries every row of `queries` in-process on this thread; timing covers only the query loop. */
export function searchAll(index: AnnoyIndex, queries: Float32Array, n: number, searchK: number): SearchRun {
  const f = index.dimensions;
  const count = rows(queries, f);
  const ids = new Int32Array(count * n).fill(-1);
  let candidates = 0;
  const start = performance.now();
  for (let q = 0; q < count; q++) {
    const result = index.getNnsByVector(row(queries, f, q), n, searchK);
    const out = q * n;
    for (let j = 0; j < result.ids.length; j++) ids[out + j] = result.ids[j];
    candidates += result.candidates;
  }
  const seconds = (performance.now() - start) / 1000;
  return { ids, qps: count / seconds, seconds, candidates: candidates / count };
}

/** Runs a few queries first so V8 has tiered the search code up before anything is timed. */
export function warmUp(index: AnnoyIndex, queries: Float32Array, searchK: number): void {
  const f = index.dimensions;
  const count = Math.min(100, rows(queries, f));
  searchAll(index, queries.subarray(0, count * f), 10, searchK);
}

export interface OpenTiming {
  index: AnnoyIndex;
  /** The shared memory the index reads; other threads can open it again without another read. */
  storage: IndexStorage;
  readMs: number;
  openMs: number;
}

/**
 * readIndexFile into shared WebAssembly memory, then AnnoyIndex.open with full validation (what the
 * service does per load). With `into`, the file is read into that storage instead: memory this
 * process already touched, so no first-touch page faults are timed.
 */
export function openTimed(path: string, ds: Pick<Dataset, 'metric' | 'dimensions'>, into?: IndexStorage): OpenTiming {
  const t0 = performance.now();
  if (into) readIndexFileInto(path, into);
  const storage = into ?? readIndexFile(path, { shared: true });
  const t1 = performance.now();
  const index = AnnoyIndex.open(storage, ds.metric, ds.dimensions);
  const t2 = performance.now();
  return { index, storage, readMs: t1 - t0, openMs: t2 - t1 };
}

export function annoyIndexPath(ds: Dataset, trees: number, builder: 'annoy' | 'nnserve' = 'annoy'): string {
  return join(DATA_DIR, `${ds.key}.${builder}-${trees}.ann`);
}

/** The Annoy-built file (seed 1) for a dataset, built once and reused by later benchmarks. */
export function ensureAnnoyIndex(ds: Dataset, trees: number): string {
  const path = annoyIndexPath(ds, trees);
  if (!existsSync(path)) annoyBuild(ds.metric, ds.dimensions, trees, 1, ds.trainFile, path);
  return path;
}
