import { IndexFormatError } from './errors.js';
import type { Metric, NodeLayout } from './metrics/metric.js';
import type { NodeArrays } from './node-arrays.js';

/** What a node array says about itself once its roots are found. */
export interface IndexStructure {
  readonly nodeCount: number;
  readonly nItems: number;
  /** Root node indices in Annoy's order (last node first), quirks included. */
  readonly roots: Int32Array;
  /** Item slots never added (n_descendants 0). Filled by validation. */
  holes: number;
}

/**
 * Annoy's root discovery: walk back from the last node while n_descendants equals the last node's,
 * then drop the earliest one found if it merely repeats the last (the original root before its
 * copies). With n_items <= K this keeps 2·n_trees − 1 identical roots, exactly as Annoy does.
 */
export function findRoots(nodes: NodeArrays, baseWord: number, layout: NodeLayout, nodeCount: number): IndexStructure {
  const { i32 } = nodes;
  const nw = layout.nodeWords;
  const roots: number[] = [];
  let m = -1;
  for (let i = nodeCount - 1; i >= 0; i--) {
    const k = i32[baseWord + i * nw];
    if (m === -1 || k === m) {
      roots.push(i);
      m = k;
    } else {
      break;
    }
  }
  const cw = layout.childrenWord;
  if (roots.length > 1 && i32[baseWord + roots[0] * nw + cw] === i32[baseWord + roots[roots.length - 1] * nw + cw]) roots.pop();
  return { nodeCount, nItems: m, roots: Int32Array.from(roots), holes: 0 };
}

/** The metric's own checks of item and split-node fields, and its hyperplane reader (float metrics). */
export type NodeChecks = Pick<Metric, 'itemProblem' | 'splitProblem' | 'hyperplane'>;

/**
 * How far from 1 a hyperplane create_split normalised may be: float32 rounding of a normalised
 * f-vector is ~sqrt(f)·6e-8 (2.3e-7 seen at f=40), at worst f·6e-8, so 1e-3 holds to ~16k dims.
 */
const UNIT_TOLERANCE = 1e-3;

/**
 * One linear pass that proves the bytes are an Annoy forest for this layout. Annoy itself only
 * checks the file size, and a file of another metric or dimension whose size happens to divide
 * would be served as garbage; here every field the search follows must be in range.
 */
export function validateStructure(
  nodes: NodeArrays,
  baseWord: number,
  layout: NodeLayout,
  s: IndexStructure,
  describe: string,
  checks: NodeChecks = {},
  dimensions = 0,
): void {
  const { i32 } = nodes;
  const { nodeWords: nw, childrenWord: cw, maxBucket: K } = layout;
  const { nodeCount, nItems } = s;
  const fail = (why: string): never => {
    throw new IndexFormatError(`not a valid ${describe} index: ${why}`);
  };
  if (nItems < 1) fail(`the last node has n_descendants ${nItems}, so the file holds no items (or has another layout)`);
  if (nItems > nodeCount) fail(`roots claim ${nItems} items but the file has only ${nodeCount} nodes`);
  if (s.roots.length < 1) fail('no root nodes found');

  // A compact presence map keeps the bucket checks below in cache instead of touching item nodes.
  const present = new Uint8Array(nItems);
  let holes = 0;
  for (let i = 0; i < nItems; i++) {
    const nd = i32[baseWord + i * nw];
    if (nd === 0) holes++;
    else if (nd !== 1) fail(`item slot ${i} has n_descendants ${nd} (expected 0 or 1)`);
    else {
      present[i] = 1;
      const problem = checks.itemProblem?.(nodes, baseWord + i * nw, dimensions);
      if (problem) fail(`item ${i} ${problem}`);
    }
  }
  if (holes === nItems) fail('every item slot is empty');
  const isItem = (id: number): boolean => id >= 0 && id < nItems && present[id] === 1;
  // Annoy writes the root over a single item as a one-id bucket, zero-padded. Its n_descendants
  // (n_items) exceeds K once that item's id does, so the search reads it as a split whose second
  // child is slot 0, a hole: an empty bucket to the search, which Annoy's own files depend on.
  const loneItem = nItems - holes === 1;

  const plane = checks.hyperplane;
  // One item below each child (first child all the way down); nodes below the split are already
  // checked, since children point backwards. -1 when there is none to test.
  const firstItemBelow = (node: number): number => {
    let c = node;
    while (c >= nItems) {
      const w = baseWord + c * nw;
      c = i32[w] <= K ? (i32[w] === nItems ? -1 : i32[w + cw]) : i32[w + cw];
    }
    return isItem(c) ? c : -1;
  };
  const itemOnWrongSide = (w: number): number => {
    for (let side = 0; side < 2; side++) {
      const item = firstItemBelow(i32[w + cw + side]);
      if (item < 0) continue;
      const m = plane!.margin(nodes, w, baseWord + item * nw, dimensions);
      // Within the slack (or NaN) float32 could have seen 0, which side() settles by a coin flip.
      if (!(Math.abs(m.value) > m.slack)) continue;
      if ((m.value > 0 ? 1 : 0) !== side) return item;
    }
    return -1;
  };

  for (let i = nItems; i < nodeCount; i++) {
    const w = baseWord + i * nw;
    const nd = i32[w];
    if (nd < 1) fail(`tree node ${i} has n_descendants ${nd}`);
    if (nd > nItems) fail(`tree node ${i} has n_descendants ${nd} > ${nItems} items`);
    if (nd <= K) {
      // A root bucket (n_items <= K) lists every slot, holes included; search skips them.
      const rootBucket = nd === nItems;
      for (let k = 0; k < nd; k++) {
        const id = i32[w + cw + k];
        if (rootBucket ? id < 0 || id >= nItems : !isItem(id)) {
          fail(`bucket node ${i} lists item ${id}, which is not an item (0..${nItems - 1}, holes excluded)`);
        }
      }
    } else {
      for (let side = 0; side < 2; side++) {
        const child = i32[w + cw + side];
        // Children are written before their parent (post-order), so they always point backwards.
        if (child < 0 || child >= i) fail(`split node ${i} has child ${child} outside 0..${i - 1}`);
        if (child < nItems && !isItem(child) && !(loneItem && nd === nItems)) fail(`split node ${i} points at empty item slot ${child}`);
      }
      const problem = checks.splitProblem?.(nodes, w, dimensions);
      if (problem) fail(`split node ${i} ${problem}`);
      if (plane) {
        // Cheap for Annoy's files: their hyperplanes are unit length, or zeroed by the fallback.
        // Any other length is Annoy's only for data whose float32 squares underflow (below
        // ~1e-19), and Annoy's sides are still those of the stored plane: only a plane that puts
        // an item on the wrong side of its child is refused.
        const norm = plane.norm(nodes, w, dimensions);
        if (norm !== 0 && Math.abs(norm - 1) > UNIT_TOLERANCE && Number.isFinite(norm)) {
          const wrong = itemOnWrongSide(w);
          if (wrong >= 0) {
            fail(`split node ${i}'s hyperplane has norm ${norm.toPrecision(2)}, not 1, and puts item ${wrong} on the other side from the child that holds it (${plane.guess(norm, dimensions)})`);
          }
        }
      }
      if (nd < nItems) {
        const size = (c: number): number => (c < nItems ? 1 : i32[baseWord + c * nw]);
        const sum = size(i32[w + cw]) + size(i32[w + cw + 1]);
        if (sum !== nd) fail(`split node ${i} has n_descendants ${nd} but its children hold ${sum}`);
      }
    }
  }
  if (nItems === 1) checkNotCutItems(i32, baseWord, layout, s);
  checkReachable(i32, baseWord, layout, s);
  s.holes = holes;
}

/**
 * Every tree node must hang below a root, except original roots (their copies at the end are
 * what Annoy searches). A file cut right after some tree's root still has consistent nodes, but
 * the trees before it become unreachable: that is how such a truncation shows.
 *
 * And below the roots it must be a forest: each tree node reached once, from one parent or as one
 * root. Annoy never writes a node twice into what it searches, while a crafted file whose splits
 * share a child (both children of each node the node before it) is acyclic and passes every
 * other check, yet the search walks every path through it: 2^depth heap entries, a query that
 * never ends and whose heap grows until memory runs out (on the event loop for a small index).
 */
function checkReachable(i32: Int32Array, baseWord: number, layout: NodeLayout, s: IndexStructure): void {
  const { nodeWords: nw, childrenWord: cw, maxBucket: K } = layout;
  const { nItems, nodeCount } = s;
  // How often each tree node is reached: from the roots, or from a parent that is itself reached.
  // Children are written before their parents, so one pass from the last node down sees every
  // parent of a node before the node: no stack, and the nodes are read in file order.
  const reached = new Uint8Array(nodeCount - nItems);
  // Annoy's root list can hold an original root beside its copy: a multi-threaded build can write
  // one tree's root last and copy another's last, and load()'s fix-up then drops nothing. Annoy
  // searches that tree twice, harmlessly; here a root with another root's children is that copy,
  // walked once, so only a node shared below the roots counts as reached twice.
  const rootChildren = new Set<string>();
  for (const root of s.roots) {
    if (root < nItems) continue;
    const w = baseWord + root * nw;
    if (i32[w] > K) {
      const children = `${i32[w + cw]} ${i32[w + cw + 1]}`;
      if (rootChildren.has(children)) continue;
      rootChildren.add(children);
    }
    reached[root - nItems]++;
  }
  const twice = (i: number): never => {
    throw new IndexFormatError(`not a valid index: tree node ${i} is reached twice from the ${s.roots.length} roots (a subtree shared between parents; Annoy writes trees, which the search relies on)`);
  };
  let orphans = 0;
  for (let i = nodeCount - 1; i >= nItems; i--) {
    const w = baseWord + i * nw;
    const times = reached[i - nItems];
    if (times === 0) {
      if (i32[w] !== nItems) orphans++;
      continue;
    }
    if (times > 1) twice(i);
    if (i32[w] > K) {
      const c0 = i32[w + cw];
      const c1 = i32[w + cw + 1];
      if (c0 >= nItems && reached[c0 - nItems]++ > 0) twice(c0);
      if (c1 >= nItems && reached[c1 - nItems]++ > 0) twice(c1);
    }
  }
  if (orphans > 0) {
    throw new IndexFormatError(`not a valid index: ${orphans} tree nodes are not reachable from the ${s.roots.length} roots (a truncated or damaged file)`);
  }
}

/**
 * A file cut inside its item area ends on an item node (n_descendants 1), so it reads as a
 * one-item forest in which every later item is a "bucket" naming item 0. Genuine one-item
 * buckets carry nothing after their single id, while items carry their vector there.
 */
function checkNotCutItems(i32: Int32Array, baseWord: number, layout: NodeLayout, s: IndexStructure): void {
  const { nodeWords: nw, childrenWord: cw } = layout;
  for (let i = 1; i < s.nodeCount; i++) {
    const w = baseWord + i * nw;
    for (let k = w + cw + 1; k < w + nw; k++) {
      if (i32[k] !== 0) {
        throw new IndexFormatError(`not a valid index: node ${i} of a one-item forest carries data after its bucket (a file cut inside its item area?)`);
      }
    }
  }
}
