import { FLOAT32_MAX, squaredLengthProblem } from './metrics/query-limits.js';
import type { NodeLayout } from './metrics/metric.js';
import type { NodeArrays } from './node-arrays.js';

export interface UnusableItem {
  item: number;
  problem: string;
}

/**
 * The first item whose stored float vector makes its distances meaningless, or null. Annoy stores
 * such vectors without a word (NaN from a failed normalisation upstream, or components so large
 * that the squared length overflows float32) and then answers with NaN, infinite or constant
 * distances in an arbitrary order: valid bytes, but not an index anyone should serve. One pass over the items.
 */
export function itemVectorProblem(nodes: NodeArrays, baseWord: number, layout: NodeLayout, nItems: number, dimensions: number): UnusableItem | null {
  const { i32, f32 } = nodes;
  for (let i = 0; i < nItems; i++) {
    const node = baseWord + i * layout.nodeWords;
    if (i32[node] !== 1) continue; // a hole: never added
    const v = node + layout.vectorWord;
    // Four sums, not one: a single running sum is a chain of dependent adds (1.5–2× slower).
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let d = 0;
    for (; d + 4 <= dimensions; d += 4) {
      s0 += f32[v + d] * f32[v + d];
      s1 += f32[v + d + 1] * f32[v + d + 1];
      s2 += f32[v + d + 2] * f32[v + d + 2];
      s3 += f32[v + d + 3] * f32[v + d + 3];
    }
    for (; d < dimensions; d++) s0 += f32[v + d] * f32[v + d];
    const squared = s0 + s1 + s2 + s3;
    // Written so that NaN fails too.
    if (squared <= FLOAT32_MAX) continue;
    for (d = 0; d < dimensions; d++) {
      if (!Number.isFinite(f32[v + d])) return { item: i, problem: `item ${i}'s vector[${d}] is ${f32[v + d]}, so its distances mean nothing (NaN, infinite, or one value for every item)` };
    }
    return { item: i, problem: squaredLengthProblem(squared, `item ${i}'s vector`) };
  }
  return null;
}
