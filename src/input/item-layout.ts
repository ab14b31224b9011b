import type { VectorSet } from './vector-set.js';

/**
 * How input rows become Annoy items.
 * - `dense`: row i of `vectors` is item i, items 0..n-1 all present (no ids, string ids, or
 *   integer ids that are a permutation of 0..n-1, which are reordered here).
 * - `sparse`: integer ids with holes; `ids[r]` is the item of input row r. Annoy allocates
 *   max(id)+1 items and never returns the holes.
 */
export type ItemLayout =
  | { kind: 'dense'; vectors: Float32Array; items: number; names: string[] | null }
  | { kind: 'sparse'; vectors: Float32Array; ids: number[]; items: number };

export function layoutItems(set: VectorSet): ItemLayout {
  const rows = set.vectors.length / set.dimensions;
  const ids = set.ids;
  if (ids === null) return { kind: 'dense', vectors: set.vectors, items: rows, names: null };
  if (typeof ids[0] === 'string') return { kind: 'dense', vectors: set.vectors, items: rows, names: ids as string[] };
  const ints = ids as number[];
  let max = -1;
  let inOrder = true;
  for (let r = 0; r < ints.length; r++) {
    if (ints[r] > max) max = ints[r];
    if (ints[r] !== r) inOrder = false;
  }
  if (inOrder) return { kind: 'dense', vectors: set.vectors, items: rows, names: null };
  // Ids are unique (the readers reject duplicates), so max = n-1 means a permutation.
  if (max === rows - 1) {
    const f = set.dimensions;
    const vectors = new Float32Array(set.vectors.length);
    for (let r = 0; r < rows; r++) vectors.set(set.vectors.subarray(r * f, (r + 1) * f), ints[r] * f);
    return { kind: 'dense', vectors, items: rows, names: null };
  }
  return { kind: 'sparse', vectors: set.vectors, ids: ints, items: max + 1 };
}
