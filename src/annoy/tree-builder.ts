import type { BuildContext, Metric, SplitPlane } from './metrics/metric.js';
import { nodeArrays, type NodeArrays } from './node-arrays.js';
import { growStorage, storageBytes, type IndexStorage } from './storage.js';

/** Trees built by one thread: node records whose indices start at n_items, plus their roots. */
export interface ForestPart {
  /** `count` node records (then unused room), node k being index `nItems + k` before relocation. */
  buffer: ArrayBuffer;
  count: number;
  roots: number[];
}

/** Either a fixed number of trees, or Annoy's n_trees = -1 rule expressed as a node budget. */
export type ForestPlan = { trees: number } | { targetNodes: number };

const MAX_ATTEMPTS = 3;

/** Annoy's _split_imbalance, in the float precision Annoy uses. */
function imbalance(left: number, right: number): number {
  const f = Math.fround(left / (left + right + 1e-9));
  return Math.max(f, 1 - f);
}

/**
 * Builds trees over the present items `items` (ids < nItems) the way Annoy's _make_tree does:
 * buckets of at most K ids, splits from create_split with up to three tries for balance, a random
 * split as last resort, smaller side first, nodes written in post-order.
 */
export function buildForest(
  ctx: BuildContext,
  metric: Metric,
  items: Int32Array,
  nItems: number,
  plan: ForestPlan,
  onTree?: (done: number) => void,
): ForestPart {
  const { nodeWords: nw, childrenWord: cw, maxBucket: K } = ctx.layout;
  let buffer = new ArrayBuffer(Math.max(1024, items.length) * nw * 4);
  let out: NodeArrays = nodeArrays({ buffer, byteOffset: 0, byteLength: buffer.byteLength });
  let count = 0;
  const roots: number[] = [];
  const plane: SplitPlane = metric.newSplitPlane(ctx.layout);
  const sides = new Uint8Array(items.length);
  const spare = new Int32Array(items.length);
  // A split node waits in scratch while its subtrees are written (post-order): one per depth, made
  // once. Fresh typed arrays per split (a backing store each, and the GC work they cause) were
  // 11-20 % of a build's time on 100k x 40 (10 trees, 6 alternating runs).
  const pending: NodeArrays[] = [];
  const pendingAt = (depth: number): NodeArrays => (pending[depth] ??= nodeArrays({ buffer: new ArrayBuffer(nw * 4), byteOffset: 0, byteLength: nw * 4 }));

  const allocate = (): number => {
    if ((count + 1) * nw * 4 > buffer.byteLength) {
      const grown = new ArrayBuffer(buffer.byteLength * 2);
      new Uint8Array(grown).set(new Uint8Array(buffer));
      buffer = grown;
      out = nodeArrays({ buffer, byteOffset: 0, byteLength: buffer.byteLength });
    }
    return count++;
  };

  // Stable partition of ids by side: left ids stay in front, right ids follow; returns the left count.
  const partition = (ids: Int32Array): number => {
    let left = 0;
    let right = 0;
    for (let k = 0; k < ids.length; k++) {
      if (sides[k] === 0) ids[left++] = ids[k];
      else spare[right++] = ids[k];
    }
    ids.set(spare.subarray(0, right), left);
    return left;
  };

  const makeTree = (ids: Int32Array, isRoot: boolean, depth: number): number => {
    const size = ids.length;
    if (size === 1 && !isRoot) return ids[0];
    if (size <= K && (!isRoot || nItems <= K || size === 1)) {
      const local = allocate();
      const w = local * nw;
      out.i32.fill(0, w, w + nw);
      out.i32[w] = isRoot ? nItems : size;
      out.i32.set(ids, w + cw);
      return nItems + local;
    }

    let left = 0;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      metric.createSplit(ctx, ids, size, plane);
      metric.assignSides(ctx, plane, ids, size, sides);
      left = 0;
      for (let k = 0; k < size; k++) left += sides[k] === 0 ? 1 : 0;
      if (imbalance(left, size - left) < 0.95) break;
    }
    while (imbalance(left, size - left) > 0.99) {
      metric.clearPlane(plane);
      left = 0;
      for (let k = 0; k < size; k++) {
        sides[k] = ctx.random.flip();
        left += sides[k] === 0 ? 1 : 0;
      }
    }
    // Recursion reuses `plane`, so the split node is written now, before its children.
    const split = pendingAt(depth);
    split.i32.fill(0);
    metric.writeSplit(split, 0, ctx.layout, plane);

    const leftCount = partition(ids);
    const halves = [ids.subarray(0, leftCount), ids.subarray(leftCount)];
    const children = [0, 0];
    // Smaller side first, as Annoy does for cache locality.
    const flip = halves[0].length > halves[1].length ? 1 : 0;
    for (let side = 0; side < 2; side++) children[side ^ flip] = makeTree(halves[side ^ flip], false, depth + 1);

    const local = allocate();
    const w = local * nw;
    out.i32.set(split.i32, w);
    out.i32[w] = isRoot ? nItems : size;
    out.i32[w + cw] = children[0];
    out.i32[w + cw + 1] = children[1];
    return nItems + local;
  };

  for (;;) {
    if ('trees' in plan ? roots.length >= plan.trees : count >= plan.targetNodes) break;
    roots.push(makeTree(items.slice(), true, 0));
    onTree?.(roots.length);
  }
  // Not trimmed: a copy would cost more (fresh pages) than the spare room it frees for a moment.
  return { buffer, count, roots };
}

/**
 * Completes Annoy's file layout after the items in `items` (n_items nodes): each part's nodes
 * (relocated), then a copy of every root. Split children above n_items are local to their part.
 * Works in place, growing the storage (Annoy's own build appends to its buffer the same way), so
 * the item vectors are not copied; returns the whole file as a view of the storage.
 */
export function assembleIndex(items: IndexStorage, parts: ForestPart[], nItems: number, layout: { nodeBytes: number; nodeWords: number; childrenWord: number; maxBucket: number }): Uint8Array {
  const { nodeBytes, nodeWords: nw, childrenWord: cw, maxBucket: K } = layout;
  const treeNodes = parts.reduce((sum, p) => sum + p.count, 0);
  const rootCount = parts.reduce((sum, p) => sum + p.roots.length, 0);
  const total = nItems + treeNodes + rootCount;
  const storage = growStorage(items, total * nodeBytes);
  const file = storageBytes(storage);
  const words = new Int32Array(storage.buffer, storage.byteOffset, file.byteLength / 4);
  const roots: number[] = [];
  let offset = 0;
  for (const part of parts) {
    const start = nItems + offset;
    file.set(new Uint8Array(part.buffer, 0, part.count * nodeBytes), start * nodeBytes);
    for (let k = 0; k < part.count; k++) {
      const w = (start + k) * nw;
      if (words[w] > K) {
        for (let c = 0; c < 2; c++) if (words[w + cw + c] >= nItems) words[w + cw + c] += offset;
      }
    }
    for (const root of part.roots) roots.push(root + offset);
    offset += part.count;
  }
  let at = nItems + treeNodes;
  for (const root of roots) file.copyWithin(at++ * nodeBytes, root * nodeBytes, (root + 1) * nodeBytes);
  return file;
}
