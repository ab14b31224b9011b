import { performance } from 'node:perf_hooks';
import type { AnnoyIndex } from '../../annoy/index.js';
import type { QueryAnswer, QuerySpec } from './task.js';

/** Runs queries against one opened index: the same code on a worker and on the event loop. */
export function answerQueries(index: AnnoyIndex, queries: readonly QuerySpec[], n: number, searchK: number, includeDistances: boolean): QueryAnswer[] {
  // Packed (pushed, not preallocated): the answers cross threads, where a holey array is cloned as a sparse one.
  const answers: QueryAnswer[] = [];
  for (let i = 0; i < queries.length; i++) {
    const q = queries[i];
    const t0 = performance.now();
    const r = typeof q === 'number' ? index.getNnsByItem(q, n, searchK, includeDistances) : index.getNnsByVector(q, n, searchK, includeDistances);
    const seconds = (performance.now() - t0) / 1000;
    answers.push(includeDistances ? { ids: r.ids, distances: r.distances, candidates: r.candidates, seconds } : { ids: r.ids, candidates: r.candidates, seconds });
  }
  return answers;
}
