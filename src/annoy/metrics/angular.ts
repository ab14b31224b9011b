import type { NodeArrays } from '../node-arrays.js';
import { dotArray, HAMMING_GUESS, normalLength, normalizeInPlace, planeMargin, planeDots, planePqDistance, prepareFloatQuery, readFloatVector, sidesFromMargins, writeFloatVector } from './float-vectors.js';
import type { BuildContext, HyperplaneReader, Metric, StoreContext, NodeLayout, QueryContext, SplitPlane } from './metric.js';
import { twoMeansNormal, type TwoMeansPolicy } from './two-means.js';

// Node: n_descendants i32 @0 | union { children i32[2], |v|² f32 } @4 | v f32[f] @12.
const NORM_WORD = 1;

function layout(f: number): NodeLayout {
  const nodeBytes = 12 + 4 * f;
  return { nodeBytes, nodeWords: nodeBytes / 4, childrenWord: 1, vectorWord: 3, vectorWords: f, maxBucket: (nodeBytes - 4) / 4 };
}

/** 2 − 2·cos in float32 steps, as Annoy computes it; 2 when either vector is zero. */
export function cosineDistance(pq: number, pp: number, qq: number): number {
  const ppqq = Math.fround(pp * qq);
  if (ppqq > 0) return Math.fround(2 - (2 * pq) / Math.fround(Math.sqrt(ppqq)));
  return 2;
}

/**
 * Below this, float32 rounding of three separately summed dot products dominates 2 − 2·cos (an
 * item's distance to itself would show as ~5e-4). Annoy gets exactly 0 there because its norms and
 * dot product come from one routine; recomputing these few in double from the same values does too.
 */
const NEAR_ZERO = 1e-5;

function exactCosineDistance(q: Float32Array, f32: Float32Array, v: number, f: number): number {
  let pq = 0;
  let pp = 0;
  let qq = 0;
  for (let z = 0; z < f; z++) {
    const a = q[z];
    const b = f32[v + z];
    pq += a * b;
    pp += b * b;
    qq += a * a;
  }
  const ppqq = pp * qq;
  return ppqq > 0 ? Math.fround(Math.max(0, 2 - (2 * pq) / Math.sqrt(ppqq))) : 2;
}

/** Old files store 0 instead of |v|²: recompute it then, as Annoy does. */
function storedNorm(nodes: NodeArrays, nodeWord: number, f: number): number {
  const norm = nodes.f32[nodeWord + NORM_WORD];
  if (norm !== 0) return norm;
  const v = nodeWord + 3;
  return Math.fround(dotArray(nodes.f32.subarray(v, v + f), nodes.f32.subarray(v, v + f), f));
}

const twoMeansPolicy: TwoMeansPolicy = {
  mode: 'angular',
  extraWord: NORM_WORD,
  cosine: true,
  distance(c, cSq, f32, itemWord, itemNodeWord) {
    let pq = 0;
    for (let z = 0; z < c.length; z++) pq += c[z] * f32[itemWord + z];
    return cosineDistance(pq, cSq, f32[itemNodeWord + NORM_WORD]);
  },
  itemExtra: () => 0,
  storedNormSq: (f32, itemNodeWord) => f32[itemNodeWord + NORM_WORD],
};

const hyperplane: HyperplaneReader = {
  norm: (nodes, nodeWord, f) => normalLength(nodes.f32, nodeWord + 3, f),
  margin: (nodes, nodeWord, itemNodeWord, f) => planeMargin(nodes.f32, nodeWord + 3, itemNodeWord + 3, f, 0),
  // A dot file's fallback splits read as angular with one dimension more are (dot_factor, 0, .., 0),
  // |dot_factor| < 1; hamming bit indices are denormals (below 1e-38).
  guess: (norm, f) => (norm < 1 && norm > 1e-35 && f > 1 ? `a dot index of ${f - 1} dimensions, or ${HAMMING_GUESS}` : HAMMING_GUESS),
};

export const angular: Metric = Object.freeze({
  name: 'angular' as const,
  layout,
  pqInitial: Infinity,
  prepareQuery: prepareFloatQuery,
  queryNorm(query: Float32Array | Uint32Array) {
    return Math.fround(dotArray(query as Float32Array, query as Float32Array, query.length));
  },
  margin(ctx: QueryContext, nodeWord: number) {
    return Math.fround(ctx.session!.dot((nodeWord + 3) * 4));
  },
  pqDistance: planePqDistance,
  prunable: false,
  distances(ctx: QueryContext, ids: Int32Array, from: number, to: number, out: Float64Array) {
    const { nodes, baseWord, layout: l, dimensions, queryNorm } = ctx;
    ctx.session!.batch('dot', ids, from, to, baseWord * 4, l.nodeBytes, 12, out, Infinity);
    for (let i = from; i < to; i++) {
      const node = baseWord + ids[i] * l.nodeWords;
      const d = cosineDistance(Math.fround(out[i]), storedNorm(nodes, node, dimensions), queryNorm);
      out[i] = d < NEAR_ZERO ? exactCosineDistance(ctx.query as Float32Array, nodes.f32, node + 3, dimensions) : d;
    }
  },
  normalizedDistance(d: number) {
    return Math.fround(Math.sqrt(Math.max(d, 0)));
  },
  itemDistance(ctx: StoreContext, i: number, j: number) {
    const { nodes, baseWord, layout: l, dimensions } = ctx;
    const a = baseWord + i * l.nodeWords;
    const b = baseWord + j * l.nodeWords;
    const pq = Math.fround(ctx.kernels.dotStored((a + 3) * 4, (b + 3) * 4));
    const d = cosineDistance(pq, storedNorm(nodes, a, dimensions), storedNorm(nodes, b, dimensions));
    return d < NEAR_ZERO ? exactCosineDistance(nodes.f32.subarray(a + 3, a + 3 + dimensions), nodes.f32, b + 3, dimensions) : d;
  },
  hyperplane,
  readVector: readFloatVector,
  writeItem(nodes: NodeArrays, nodeWord: number, _l: NodeLayout, vector: ArrayLike<number>, f: number) {
    writeFloatVector(nodes, nodeWord + 3, vector, f);
    const v = nodes.f32.subarray(nodeWord + 3, nodeWord + 3 + f);
    nodes.f32[nodeWord + NORM_WORD] = dotArray(v, v, f);
  },
  newSplitPlane(l: NodeLayout): SplitPlane {
    return { vector: new Float32Array(l.vectorWords), extra: 0 };
  },
  createSplit(ctx: BuildContext, ids: Int32Array, count: number, plane: SplitPlane) {
    twoMeansNormal(ctx, ids, count, twoMeansPolicy, plane);
    normalizeInPlace(plane.vector as Float32Array);
  },
  assignSides(ctx: BuildContext, plane: SplitPlane, ids: Int32Array, count: number, sides: Uint8Array) {
    sidesFromMargins(planeDots(ctx, plane, ids, count), 0, count, sides, () => ctx.random.flip());
  },
  clearPlane(plane: SplitPlane) {
    // Annoy zeroes only the normal of a failed split.
    plane.vector.fill(0);
  },
  writeSplit(nodes: NodeArrays, nodeWord: number, _l: NodeLayout, plane: SplitPlane) {
    nodes.f32.set(plane.vector as Float32Array, nodeWord + 3);
  },
});
