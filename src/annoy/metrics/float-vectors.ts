import { AnnoyInputError } from '../errors.js';
import type { NodeArrays } from '../node-arrays.js';
import type { BuildContext, Margin, SplitPlane } from './metric.js';

/**
 * Throws unless `vector` holds `dimensions` numbers that stay finite in float32, the precision
 * Annoy stores (1e39 is a finite double but overflows float32). `what` names the vector in errors.
 */
export function checkVector(vector: ArrayLike<number>, dimensions: number, what = 'vector'): void {
  if (vector.length !== dimensions) throw new AnnoyInputError(`${what} has ${vector.length} values, index expects ${dimensions}`);
  for (let i = 0; i < dimensions; i++) {
    const x = vector[i];
    if (typeof x !== 'number' || !Number.isFinite(Math.fround(x))) {
      throw new AnnoyInputError(`${what}[${i}] is ${String(x)}; every value must be a finite 32-bit float`);
    }
  }
}

/**
 * Annoy's pq_distance for the float metrics: the child on the margin's side keeps the parent's
 * priority, capped by how far the query lies from the plane. One function object shared by every
 * float metric, so the search's call site stays monomorphic when one process serves several
 * metrics: with three identical copies, Gaussian angular queries at search_k 1000 ran 11 % slower
 * in a process that had served a euclidean index before.
 */
export function planePqDistance(priority: number, margin: number, child: 0 | 1): number {
  return Math.min(priority, child === 1 ? margin : -margin);
}

/** Checks a user vector and copies it into float32. */
export function prepareFloatQuery(vector: ArrayLike<number>, dimensions: number, what = 'vector'): Float32Array {
  checkVector(vector, dimensions, what);
  // Copies on V8's fast paths (Float32Array.from walks the iterator protocol).
  return vector instanceof Float32Array ? vector.slice() : new Float32Array(vector);
}

export function readFloatVector(nodes: NodeArrays, vectorWord: number, dimensions: number): number[] {
  return Array.from(nodes.f32.subarray(vectorWord, vectorWord + dimensions));
}

export function writeFloatVector(nodes: NodeArrays, vectorWord: number, vector: ArrayLike<number>, dimensions: number): void {
  const f32 = nodes.f32;
  if (vector instanceof Float32Array) {
    f32.set(vector.length === dimensions ? vector : vector.subarray(0, dimensions), vectorWord);
    return;
  }
  for (let i = 0; i < dimensions; i++) f32[vectorWord + i] = vector[i];
}

export function dotArray(a: Float32Array, b: Float32Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

let marginScratch = new Float64Array(1024);

/** dot(plane, item) for every id, through the batch kernel; the returned array is reused per call. */
export function planeDots(ctx: BuildContext, plane: SplitPlane, ids: Int32Array, count: number): Float64Array {
  if (marginScratch.length < count) marginScratch = new Float64Array(Math.max(count, marginScratch.length * 2));
  const session = ctx.kernels.open(plane.vector as Float32Array);
  try {
    session.batch('dot', ids, 0, count, ctx.baseWord * 4, ctx.layout.nodeBytes, ctx.layout.vectorWord * 4, marginScratch, Infinity);
  } finally {
    session.release();
  }
  return marginScratch;
}

/** Annoy's side(): the sign of the margin, a coin flip when it is exactly zero. */
export function sidesFromMargins(margins: Float64Array, offset: number, count: number, sides: Uint8Array, flip: () => number): void {
  for (let i = 0; i < count; i++) {
    const m = Math.fround(margins[i] + offset);
    sides[i] = m > 0 ? 1 : m < 0 ? 0 : flip();
  }
}

/** Scales `v` (and optionally one extra coordinate) to unit length; returns the scaled extra. */
export function normalizeInPlace(v: Float32Array, extra = 0): number {
  const norm = normalLength(v, 0, v.length, extra);
  if (norm > 0) {
    for (let i = 0; i < v.length; i++) v[i] /= norm;
    return extra / norm;
  }
  return extra;
}

/** sqrt(extra² + Σ v²) over `f` floats from `word`, in double. */
export function normalLength(f32: Float32Array, word: number, f: number, extra = 0): number {
  let sq = extra * extra;
  for (let z = 0; z < f; z++) sq += f32[word + z] * f32[word + z];
  return Math.sqrt(sq);
}

/** The smallest normal float32: hardware that flushes subnormals (FTZ/DAZ) reads and writes 0 below it. */
const FLOAT32_MIN_NORMAL = 2 ** -126;

/**
 * `constant` + plane · item over `f` floats, in double, with a bound on what Annoy's float32 sum
 * (in any order, scalar or SIMD) may differ by: a relative 2^-24 per operation of the running
 * magnitude, and products below 2^-150 rounding to 0. Four times that bound is allowed.
 *
 * Annoy built in a process that flushes subnormals (a program linked with -ffast-math or -Ofast,
 * or a Python that loaded any library linked so, which sets FTZ/DAZ process-wide) saw every
 * product, sum or item component below 2^-126 as 0, and settled those margins by a coin flip.
 * Such a process never stores a subnormal in a hyperplane (create_split computes every component),
 * so only a plane holding one (`planeField`: the a or dot_factor stored beside v) is held to
 * gradual underflow; any other may have lost those terms, and they are allowed as well.
 */
export function planeMargin(f32: Float32Array, planeWord: number, itemWord: number, f: number, constant: number, planeField = 0): Margin {
  let value = constant;
  let magnitude = Math.abs(constant);
  let flushable = Math.abs(constant) < FLOAT32_MIN_NORMAL ? Math.abs(constant) : 0;
  let subnormalPlane = planeField !== 0 && Math.abs(planeField) < FLOAT32_MIN_NORMAL;
  for (let z = 0; z < f; z++) {
    const a = f32[planeWord + z];
    const b = f32[itemWord + z];
    const p = a * b;
    value += p;
    magnitude += Math.abs(p);
    if (a !== 0 && Math.abs(a) < FLOAT32_MIN_NORMAL) subnormalPlane = true;
    if (Math.abs(p) < FLOAT32_MIN_NORMAL || Math.abs(b) < FLOAT32_MIN_NORMAL) flushable += Math.abs(p);
  }
  const rounding = (f + 2) * 2 ** -22 * magnitude;
  return { value, slack: subnormalPlane ? rounding + (f + 2) * 2 ** -147 : rounding + 4 * flushable + (f + 2) * 2 ** -124 };
}

/**
 * A hamming split keeps its bit index (a denormal as float32) in v[0], and Annoy builds it in an
 * uninitialised buffer, so the rest is stack garbage of any length: the one same-sized layout left.
 */
export const HAMMING_GUESS = 'a hamming index?';
