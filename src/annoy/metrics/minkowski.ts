import type { BatchOp } from '../kernels/kernels.js';
import type { NodeArrays } from '../node-arrays.js';
import { HAMMING_GUESS, normalLength, normalizeInPlace, planeMargin, planeDots, planePqDistance, prepareFloatQuery, readFloatVector, sidesFromMargins, writeFloatVector } from './float-vectors.js';
import type { BuildContext, HyperplaneReader, Metric, StoreContext, NodeLayout, QueryContext, SplitPlane } from './metric.js';
import type { MetricName } from './names.js';
import { twoMeansNormal, type TwoMeansPolicy } from './two-means.js';

// Node: n_descendants i32 @0 | a f32 @4 (plane offset) | children i32[2] @8 | v f32[f] @16.
const OFFSET_WORD = 1;
const VECTOR_WORD = 4;

function layout(f: number): NodeLayout {
  const nodeBytes = 16 + 4 * f;
  return { nodeBytes, nodeWords: nodeBytes / 4, childrenWord: 2, vectorWord: VECTOR_WORD, vectorWords: f, maxBucket: (nodeBytes - 8) / 4 };
}

const hyperplane: HyperplaneReader = {
  norm: (nodes, nodeWord, f) => normalLength(nodes.f32, nodeWord + VECTOR_WORD, f),
  margin(nodes, nodeWord, itemNodeWord, f) {
    const offset = nodes.f32[nodeWord + OFFSET_WORD];
    return planeMargin(nodes.f32, nodeWord + VECTOR_WORD, itemNodeWord + VECTOR_WORD, f, offset, offset);
  },
  guess: () => HAMMING_GUESS,
};

/** What distinguishes euclidean from manhattan: the distance and how it is shown. */
interface MinkowskiDistance {
  readonly name: Extract<MetricName, 'euclidean' | 'manhattan'>;
  readonly batchOp: Extract<BatchOp, 'l2' | 'l1'>;
  /** Distance between a JS centroid and a stored vector (two_means). */
  between(c: Float32Array, f32: Float32Array, word: number): number;
  stored(ctx: StoreContext, aByte: number, bByte: number): number;
  normalized(d: number): number;
}

/** Annoy's Minkowski base: hyperplane splits with an offset, shared by euclidean and manhattan. */
export function minkowskiMetric(d: MinkowskiDistance): Metric {
  const twoMeansPolicy: TwoMeansPolicy = { mode: d.name, cosine: false, distance: (c, _e, f32, w) => d.between(c, f32, w), itemExtra: () => 0 };
  return Object.freeze({
    name: d.name,
    layout,
    pqInitial: Infinity,
    prepareQuery: prepareFloatQuery,
    queryNorm: () => 0,
    margin(ctx: QueryContext, nodeWord: number) {
      const dot = Math.fround(ctx.session!.dot((nodeWord + VECTOR_WORD) * 4));
      return Math.fround(ctx.nodes.f32[nodeWord + OFFSET_WORD] + dot);
    },
    pqDistance: planePqDistance,
    prunable: true,
    distances(ctx: QueryContext, ids: Int32Array, from: number, to: number, out: Float64Array, bound: number) {
      ctx.session!.batch(d.batchOp, ids, from, to, ctx.baseWord * 4, ctx.layout.nodeBytes, VECTOR_WORD * 4, out, bound);
      for (let i = from; i < to; i++) out[i] = Math.fround(out[i]);
    },
    normalizedDistance: d.normalized,
    itemDistance(ctx: StoreContext, i: number, j: number) {
      const { baseWord, layout: l } = ctx;
      return Math.fround(d.stored(ctx, (baseWord + i * l.nodeWords + VECTOR_WORD) * 4, (baseWord + j * l.nodeWords + VECTOR_WORD) * 4));
    },
    hyperplane,
    readVector: readFloatVector,
    writeItem(nodes: NodeArrays, nodeWord: number, _l: NodeLayout, vector: ArrayLike<number>, f: number) {
      writeFloatVector(nodes, nodeWord + VECTOR_WORD, vector, f);
    },
    newSplitPlane(l: NodeLayout): SplitPlane {
      return { vector: new Float32Array(l.vectorWords), extra: 0 };
    },
    createSplit(ctx: BuildContext, ids: Int32Array, count: number, plane: SplitPlane) {
      const f = ctx.dimensions;
      const centroids = twoMeansNormal(ctx, ids, count, twoMeansPolicy, plane);
      const v = plane.vector as Float32Array;
      normalizeInPlace(v);
      // The plane passes through the midpoint of the two centroids.
      let a = 0;
      for (let z = 0; z < f; z++) a += -v[z] * (centroids.p[z] + centroids.q[z]) / 2;
      plane.extra = a;
    },
    assignSides(ctx: BuildContext, plane: SplitPlane, ids: Int32Array, count: number, sides: Uint8Array) {
      sidesFromMargins(planeDots(ctx, plane, ids, count), plane.extra, count, sides, () => ctx.random.flip());
    },
    clearPlane(plane: SplitPlane) {
      // Annoy zeroes only the normal; the offset of the failed split stays.
      plane.vector.fill(0);
    },
    writeSplit(nodes: NodeArrays, nodeWord: number, _l: NodeLayout, plane: SplitPlane) {
      nodes.f32[nodeWord + OFFSET_WORD] = plane.extra;
      nodes.f32.set(plane.vector as Float32Array, nodeWord + VECTOR_WORD);
    },
  });
}
