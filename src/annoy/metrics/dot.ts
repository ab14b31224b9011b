import type { NodeArrays } from '../node-arrays.js';
import { dotArray, HAMMING_GUESS, normalLength, normalizeInPlace, planeMargin, planeDots, planePqDistance, prepareFloatQuery, readFloatVector, sidesFromMargins, writeFloatVector } from './float-vectors.js';
import type { BuildContext, HyperplaneReader, Metric, StoreContext, NodeLayout, QueryContext, SplitPlane } from './metric.js';
import { twoMeansNormal, type TwoMeansPolicy } from './two-means.js';

// Annoy 1.17.3 node: n_descendants i32 @0 | children i32[2] @4 | dot_factor f32 @12 | v f32[f] @16.
// (Annoy's unreleased main branch moved to a 24+4f node; a manifest field may select it later.)
const FACTOR_WORD = 3;
const VECTOR_WORD = 4;

function layout(f: number): NodeLayout {
  const nodeBytes = 16 + 4 * f;
  return { nodeBytes, nodeWords: nodeBytes / 4, childrenWord: 1, vectorWord: VECTOR_WORD, vectorWords: f, maxBucket: (nodeBytes - 4) / 4 };
}

// Annoy 1.17's two_means leaves dot_factor out of the distance, the norm and the running mean (only
// the two seed points are normalised with it). Followed as is for parity: with dot_factor in the norm
// and mean (as Annoy's later main branch has it) forests reached a narrower, higher recall than 1.17's.
const twoMeansPolicy: TwoMeansPolicy = {
  mode: 'dot',
  extraWord: FACTOR_WORD,
  cosine: true,
  distance(c, _cSq, f32, itemWord) {
    let s = 0;
    for (let z = 0; z < c.length; z++) s += c[z] * f32[itemWord + z];
    return -s;
  },
  itemExtra: (f32, itemNodeWord) => f32[itemNodeWord + FACTOR_WORD],
};

const hyperplane: HyperplaneReader = {
  norm(nodes, nodeWord, f) {
    // The random-split fallback zeroes v but not dot_factor, which then keeps any value in [-1, 1].
    const v = normalLength(nodes.f32, nodeWord + VECTOR_WORD, f);
    const factor = nodes.f32[nodeWord + FACTOR_WORD];
    return v === 0 ? 0 : Math.sqrt(v * v + factor * factor);
  },
  margin(nodes, nodeWord, itemNodeWord, f) {
    const factor = nodes.f32[nodeWord + FACTOR_WORD];
    return planeMargin(nodes.f32, nodeWord + VECTOR_WORD, itemNodeWord + VECTOR_WORD, f, Math.fround(factor * factor), factor);
  },
  guess: () => HAMMING_GUESS,
};

export const dot: Metric = Object.freeze({
  name: 'dot' as const,
  layout,
  pqInitial: Infinity,
  prepareQuery: prepareFloatQuery,
  queryNorm: () => 0,
  margin(ctx: QueryContext, nodeWord: number) {
    const factor = ctx.nodes.f32[nodeWord + FACTOR_WORD];
    // dot_factor² rather than dot_factor × the query's (zero) factor: what released 1.17 files were built with.
    return Math.fround(Math.fround(ctx.session!.dot((nodeWord + VECTOR_WORD) * 4)) + Math.fround(factor * factor));
  },
  pqDistance: planePqDistance,
  prunable: false,
  distances(ctx: QueryContext, ids: Int32Array, from: number, to: number, out: Float64Array) {
    ctx.session!.batch('dot', ids, from, to, ctx.baseWord * 4, ctx.layout.nodeBytes, VECTOR_WORD * 4, out, Infinity);
    for (let i = from; i < to; i++) out[i] = -Math.fround(out[i]);
  },
  normalizedDistance: (d: number) => -d,
  itemDistance(ctx: StoreContext, i: number, j: number) {
    const { baseWord, layout: l } = ctx;
    return -Math.fround(ctx.kernels.dotStored((baseWord + i * l.nodeWords + VECTOR_WORD) * 4, (baseWord + j * l.nodeWords + VECTOR_WORD) * 4));
  },
  itemProblem(nodes: NodeArrays, nodeWord: number, f: number) {
    // preprocess stores sqrt(max|v|² − |v|²), never negative (NaN, from an overflowing vector, is
    // left to the item-vector check). Angular f+1 nodes have this size and these tree fields too.
    // Except -Infinity: built with Annoy's own setup.py flags (-O3 -ffast-math), sqrtf is rsqrt
    // plus a Newton step, which turns a subnormal argument into -Infinity; every item of data whose
    // norms are below ~1e-19 gets one.
    const factor = nodes.f32[nodeWord + FACTOR_WORD];
    return factor < 0 && factor !== -Infinity ? `has dot_factor ${factor}, which dot indexes never store (an angular index of ${f + 1} dimensions?)` : null;
  },
  hyperplane,
  readVector: readFloatVector,
  writeItem(nodes: NodeArrays, nodeWord: number, _l: NodeLayout, vector: ArrayLike<number>, f: number) {
    writeFloatVector(nodes, nodeWord + VECTOR_WORD, vector, f);
    nodes.f32[nodeWord + FACTOR_WORD] = 0;
  },
  preprocess(ctx: BuildContext, items: Int32Array) {
    // Lift every item onto a sphere of radius max|v| with an extra coordinate, so inner product
    // search becomes angular search (the trick Annoy's DotProduct::preprocess applies).
    const { nodes, baseWord, layout: l, dimensions: f } = ctx;
    const norms = new Float64Array(items.length);
    let maxSq = 0;
    for (let k = 0; k < items.length; k++) {
      const v = baseWord + items[k] * l.nodeWords + VECTOR_WORD;
      const sub = nodes.f32.subarray(v, v + f);
      norms[k] = dotArray(sub, sub, f);
      maxSq = Math.max(maxSq, norms[k]);
    }
    for (let k = 0; k < items.length; k++) {
      nodes.f32[baseWord + items[k] * l.nodeWords + FACTOR_WORD] = Math.sqrt(Math.max(0, maxSq - norms[k]));
    }
  },
  newSplitPlane(l: NodeLayout): SplitPlane {
    return { vector: new Float32Array(l.vectorWords), extra: 0 };
  },
  createSplit(ctx: BuildContext, ids: Int32Array, count: number, plane: SplitPlane) {
    const centroids = twoMeansNormal(ctx, ids, count, twoMeansPolicy, plane);
    plane.extra = normalizeInPlace(plane.vector as Float32Array, centroids.pExtra - centroids.qExtra);
  },
  assignSides(ctx: BuildContext, plane: SplitPlane, ids: Int32Array, count: number, sides: Uint8Array) {
    sidesFromMargins(planeDots(ctx, plane, ids, count), Math.fround(plane.extra * plane.extra), count, sides, () => ctx.random.flip());
  },
  clearPlane(plane: SplitPlane) {
    // Annoy zeroes only the normal; the offset / dot_factor of the failed split stays.
    plane.vector.fill(0);
  },
  writeSplit(nodes: NodeArrays, nodeWord: number, _l: NodeLayout, plane: SplitPlane) {
    nodes.f32[nodeWord + FACTOR_WORD] = plane.extra;
    nodes.f32.set(plane.vector as Float32Array, nodeWord + VECTOR_WORD);
  },
});
