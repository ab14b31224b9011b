import { TWO_MEANS_ITERATIONS, TWO_MEANS_SAMPLES, type TwoMeansMode } from '../kernels/kernels.js';
import type { Random } from '../random.js';
import type { BuildContext, SplitPlane } from './metric.js';

/** How two_means measures and averages points for one metric. */
export interface TwoMeansPolicy {
  /** The kernels' fast path for this metric; must describe the same arithmetic as the members below. */
  readonly mode: TwoMeansMode;
  /** Word offset in the node of the f32 the mode reads (angular: |v|², dot: dot_factor); else unused. */
  readonly extraWord?: number;
  /** Normalise points first and weight updates by norm (angular, dot). */
  readonly cosine: boolean;
  /**
   * Annoy's D::distance between a centroid (with its cached |c|²) and the stored item whose vector
   * starts at `itemWord` (node at `itemNodeWord`).
   */
  distance(centroid: Float32Array, centroidSq: number, f32: Float32Array, itemWord: number, itemNodeWord: number): number;
  /**
   * The item's extra coordinate (dot: dot_factor), else 0. It enters only through the two seed
   * points' normalisation: Annoy 1.17's loop measures, normalises and averages the vectors alone.
   */
  itemExtra(f32: Float32Array, itemNodeWord: number): number;
  /** |item|², when the node stores it (angular); else undefined. */
  storedNormSq?(f32: Float32Array, itemNodeWord: number): number;
}

export interface Centroids {
  p: Float32Array;
  q: Float32Array;
  pExtra: number;
  qExtra: number;
}

/** Reused by every call on this thread: twoMeans never re-enters itself. */
const scratchSamples = new Int32Array(TWO_MEANS_SAMPLES);
let centroidsScratch: Centroids | undefined;

/**
 * This thread's centroids for `f` dimensions, reused like the split scratch in tree-builder.ts (no
 * typed-array allocation per split): a split reads them before the next split starts, and twoMeans
 * overwrites every field.
 */
function scratchCentroids(f: number): Centroids {
  if (centroidsScratch?.p.length !== f) centroidsScratch = { p: new Float32Array(f), q: new Float32Array(f), pExtra: 0, qExtra: 0 };
  return centroidsScratch;
}

/**
 * Annoy's two_means: seed two centroids with distinct random items, then 200 times move the
 * centroid closer to a random item (distance weighted by the centroid's count) to its running mean.
 * All random ids are drawn first, so the kernels' fast path and the JS loop consume the same
 * stream and a seed gives the same draws either way.
 */
export function twoMeans(ctx: BuildContext, ids: Int32Array, count: number, policy: TwoMeansPolicy, out: Centroids): void {
  const samples = scratchSamples;
  drawTwoMeansSamples(ctx.random, ids, count, samples);
  const fast = ctx.kernels.twoMeans?.(
    samples,
    policy.mode,
    ctx.baseWord * 4,
    ctx.layout.nodeBytes,
    ctx.layout.vectorWord * 4,
    (policy.extraWord ?? 0) * 4,
    out.p,
    out.q,
  );
  if (fast !== undefined) {
    out.pExtra = fast.pExtra;
    out.qExtra = fast.qExtra;
    return;
  }
  twoMeansJs(ctx, samples, policy, out);
}

/**
 * Fills `samples` with item ids: two distinct seeds, then one per iteration. One id is drawn per
 * iteration even when that iteration will skip its item, the order Annoy draws in.
 */
export function drawTwoMeansSamples(random: Random, ids: Int32Array, count: number, samples: Int32Array): void {
  const i = random.index(count);
  let j = random.index(count - 1);
  j += j >= i ? 1 : 0;
  samples[0] = ids[i];
  samples[1] = ids[j];
  for (let l = 0; l < TWO_MEANS_ITERATIONS; l++) samples[2 + l] = ids[random.index(count)];
}

function squaredNorm(v: Float32Array): number {
  let s = 0;
  for (let z = 0; z < v.length; z++) s += v[z] * v[z];
  return s;
}

/**
 * The part of create_split every hyperplane metric shares: two_means, then the plane normal
 * p − q written into `plane.vector` (unnormalised). Returns the centroids for the metric to finish
 * the split (normalise; offset for Minkowski; dot_factor for dot).
 */
export function twoMeansNormal(ctx: BuildContext, ids: Int32Array, count: number, policy: TwoMeansPolicy, plane: SplitPlane): Centroids {
  const f = ctx.dimensions;
  const centroids = scratchCentroids(f);
  twoMeans(ctx, ids, count, policy, centroids);
  const v = plane.vector as Float32Array;
  for (let z = 0; z < f; z++) v[z] = centroids.p[z] - centroids.q[z];
  return centroids;
}

/** The two_means loop in plain JS over pre-drawn `samples` (see drawTwoMeansSamples). */
export function twoMeansJs(ctx: BuildContext, samples: Int32Array, policy: TwoMeansPolicy, out: Centroids): void {
  const { f32 } = ctx.nodes;
  const f = ctx.dimensions;
  const nodeWords = ctx.layout.nodeWords;
  const vectorWord = ctx.layout.vectorWord;
  const base = ctx.baseWord;
  const cosine = policy.cosine;
  const storedNormSq = policy.storedNormSq;

  const { p, q } = out;
  const pNode = base + samples[0] * nodeWords;
  const qNode = base + samples[1] * nodeWords;
  // Plain loops: subarray() over a shared WebAssembly memory costs microseconds per call.
  for (let z = 0; z < f; z++) {
    p[z] = f32[pNode + vectorWord + z];
    q[z] = f32[qNode + vectorWord + z];
  }
  let pExtra = policy.itemExtra(f32, pNode);
  let qExtra = policy.itemExtra(f32, qNode);
  if (cosine) {
    pExtra = normalizeWithExtra(p, pExtra);
    qExtra = normalizeWithExtra(q, qExtra);
  }
  // Angular distance needs |centroid|²: keep it current instead of recomputing per distance.
  let pSq = squaredNorm(p);
  let qSq = squaredNorm(q);

  let ic = 1;
  let jc = 1;
  for (let l = 0; l < TWO_MEANS_ITERATIONS; l++) {
    const kNode = base + samples[2 + l] * nodeWords;
    const kWord = kNode + vectorWord;
    const di = ic * policy.distance(p, pSq, f32, kWord, kNode);
    const dj = jc * policy.distance(q, qSq, f32, kWord, kNode);
    let norm = 1;
    if (cosine) {
      let sq: number;
      if (storedNormSq) {
        sq = storedNormSq(f32, kNode);
      } else {
        sq = 0;
        for (let z = 0; z < f; z++) sq += f32[kWord + z] * f32[kWord + z];
      }
      norm = Math.sqrt(sq);
      if (!(norm > 0)) continue;
    }
    if (di < dj) {
      pSq = moveMean(p, ic, f32, kWord, norm);
      ic++;
    } else if (dj < di) {
      qSq = moveMean(q, jc, f32, kWord, norm);
      jc++;
    }
  }
  out.pExtra = pExtra;
  out.qExtra = qExtra;
}

function normalizeWithExtra(v: Float32Array, extra: number): number {
  let sq = extra * extra;
  for (let z = 0; z < v.length; z++) sq += v[z] * v[z];
  const norm = Math.sqrt(sq);
  if (!(norm > 0)) return extra;
  for (let z = 0; z < v.length; z++) v[z] /= norm;
  return extra / norm;
}

/**
 * One running-mean step c ← (c·n + x/norm) / (n + 1) towards the stored vector at `word`, with
 * the divisions hoisted out of the loop; returns the new |c|².
 */
function moveMean(c: Float32Array, n: number, f32: Float32Array, word: number, norm: number): number {
  const keep = n / (n + 1);
  const add = 1 / (norm * (n + 1));
  let sq = 0;
  for (let z = 0; z < c.length; z++) {
    const x = c[z] * keep + f32[word + z] * add;
    c[z] = x;
    sq += x * x;
  }
  return sq;
}
