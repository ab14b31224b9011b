import type { Metric, QueryContext } from './metrics/metric.js';
import { NodePriorityQueue } from './priority-queue.js';
import { sortBest, TopK } from './top-k.js';
import type { IndexStructure } from './structure.js';

export interface QueryResult {
  ids: number[];
  distances?: number[];
  /** Unique items whose distance was computed. */
  candidates: number;
}

/**
 * Per-thread scratch reused across queries: the hot path allocates nothing but its result arrays.
 * Queries are synchronous, so one set per JS thread is enough.
 */
const pq = new NodePriorityQueue(1024);
let candidates = new Int32Array(4096);
let distances = new Float64Array(4096);
const top = new TopK();
/** Candidates per kernel call when the metric can prune: small enough that the bound tightens often. */
const PRUNE_CHUNK = 16;
/** seen[id] === epoch marks ids already taken this query; bytes, reset every 255 queries. */
let seen = new Uint8Array(0);
let epoch = 0;

function nextEpoch(nItems: number): number {
  if (seen.length < nItems) {
    seen = new Uint8Array(nItems);
    epoch = 0;
  }
  if (++epoch === 256) {
    seen.fill(0);
    epoch = 1;
  }
  return epoch;
}

function ensureCandidates(size: number): void {
  if (candidates.length >= size) return;
  const grown = new Int32Array(Math.max(size, candidates.length * 2));
  grown.set(candidates);
  candidates = grown;
}

/**
 * Annoy's _get_all_nns: best-first walk over all trees until `searchK` candidate ids (duplicates
 * included) are collected, then exact distances over the unique items and the `n` best.
 */
export function searchNns(metric: Metric, ctx: QueryContext, s: IndexStructure, n: number, searchK: number, includeDistances: boolean): QueryResult {
  const { i32 } = ctx.nodes;
  const { nodeWords: nw, childrenWord: cw, maxBucket: K } = ctx.layout;
  const base = ctx.baseWord;
  const nItems = s.nItems;
  const limit = searchK === -1 ? n * s.roots.length : searchK;

  pq.clear();
  for (let r = 0; r < s.roots.length; r++) pq.push(metric.pqInitial, s.roots[r]);

  let count = 0;
  while (count < limit && pq.size > 0) {
    const i = pq.topNode();
    const w = base + i * nw;
    const nd = i32[w];
    if (nd > K) {
      const priority = pq.topPriority();
      const margin = metric.margin(ctx, w);
      // Pop the split node and push both children in two passes over the heap instead of three.
      pq.replaceTop(metric.pqDistance(priority, margin, 1), i32[w + cw + 1]);
      pq.push(metric.pqDistance(priority, margin, 0), i32[w + cw]);
      continue;
    }
    pq.pop();
    if (nd === 1 && i < nItems) {
      ensureCandidates(count + 1);
      candidates[count++] = i;
    } else {
      ensureCandidates(count + nd);
      for (let k = w + cw, end = w + cw + nd; k < end; k++) candidates[count++] = i32[k];
    }
  }

  // Each item is scored once. Marking beats sorting the candidates (TypedArray#sort was the
  // largest cost of a query); ties are broken by id in TopK instead of by sorted order.
  const mark = nextEpoch(nItems);
  const found = candidates;
  let unique = 0;
  if (nItems > K) {
    // Validation proved every bucket id is an item, so skip Annoy's n_descendants == 1 re-check:
    // it would take one cache miss per candidate, one at a time, before the kernel overlaps them.
    for (let k = 0; k < count; k++) {
      const id = found[k];
      if (seen[id] === mark) continue;
      seen[id] = mark;
      found[unique++] = id;
    }
  } else {
    // A root bucket of a tiny index lists every slot, holes included.
    for (let k = 0; k < count; k++) {
      const id = found[k];
      if (seen[id] === mark) continue;
      seen[id] = mark;
      if (i32[base + id * nw] === 1) found[unique++] = id;
    }
  }
  if (distances.length < unique) distances = new Float64Array(Math.max(unique, distances.length * 2));
  const p = Math.min(n, unique);
  const order = scoreAndSelect(metric, ctx, found, unique, p);
  // Filled by push, not preallocated: a holey array crosses to the main thread as a sparse one,
  // which costs more to clone than a packed one (~3 µs more per v8.serialize round trip of a reply).
  const ids: number[] = [];
  for (let k = 0; k < p; k++) ids.push(found[order[k]]);
  const result: QueryResult = { ids, candidates: unique };
  if (includeDistances) {
    const out: number[] = [];
    for (let k = 0; k < p; k++) out.push(metric.normalizedDistance(distances[order[k]]));
    result.distances = out;
  }
  return result;
}

/**
 * Distances of the `m` unique candidates and the positions of the `p` best. Where the metric allows
 * it, candidates are scored in chunks under the current n-th best distance, so the kernel can stop
 * reading a vector that can no longer make the cut: the ids stay exactly Annoy's, only fewer bytes
 * come from memory.
 */
function scoreAndSelect(metric: Metric, ctx: QueryContext, found: Int32Array, m: number, p: number): Int32Array {
  if (p > TopK.MAX_INSERTION) {
    metric.distances(ctx, found, 0, m, distances, Infinity);
    return sortBest(distances, found, m, p);
  }
  top.reset(p);
  const chunk = metric.prunable ? PRUNE_CHUNK : m;
  for (let from = 0, to = 0; from < m; from = to) {
    // The first chunk only needs to fill the top list; after that every chunk tightens the bound.
    to = Math.min(m, from === 0 ? Math.max(chunk, p) : from + chunk);
    metric.distances(ctx, found, from, to, distances, top.bound(distances));
    top.offer(distances, found, from, to);
  }
  return top.positions();
}
