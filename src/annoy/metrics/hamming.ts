import type { NodeArrays } from '../node-arrays.js';
import { checkVector } from './float-vectors.js';
import type { BuildContext, Metric, StoreContext, NodeLayout, QueryContext, SplitPlane } from './metric.js';

// Node: n_descendants i32 @0 | children i32[2] @4 | pad @12 | v u64[w] @16, w = ceil(bits / 64).
// Each uint64 is two little-endian 32-bit words (low first). A split node keeps its bit index in v[0].
const VECTOR_WORD = 4;
const RANDOM_TRIES = 20;

function layout(bits: number): NodeLayout {
  const words64 = Math.ceil(bits / 64);
  const nodeBytes = 16 + 8 * words64;
  return { nodeBytes, nodeWords: nodeBytes / 4, childrenWord: 1, vectorWord: VECTOR_WORD, vectorWords: 2 * words64, maxBucket: (nodeBytes - 4) / 4 };
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

/** Annoy reads split bits most-significant first within each uint64 (while packing is LSB first). */
function splitBit(words: Uint32Array, wordOffset: number, position: number): number {
  const bit = 63 - (position % 64);
  const word = wordOffset + 2 * Math.floor(position / 64) + (bit >= 32 ? 1 : 0);
  return (words[word] >>> (bit % 32)) & 1;
}

/** Packs 0/1 values like Annoy's Python wrapper: element i*64+j sets bit j of word i when > 0.5. */
function packBits(vector: ArrayLike<number>, bits: number, out: Uint32Array, offset: number, words: number): void {
  for (let w = 0; w < words; w++) out[offset + w] = 0;
  for (let e = 0; e < bits; e++) {
    if (vector[e] > 0.5) {
      const word = 2 * Math.floor(e / 64) + ((e % 64) >= 32 ? 1 : 0);
      out[offset + word] |= 1 << (e % 32);
    }
  }
}

function hammingBetween(u32: Uint32Array, a: number, b: number, words: number): number {
  let d = 0;
  for (let w = 0; w < words; w++) d += popcount(u32[a + w] ^ u32[b + w]);
  return d;
}

export const hamming: Metric = Object.freeze({
  name: 'hamming' as const,
  layout,
  // Annoy starts at max uint64 and subtracts one per disagreeing split; counting down from 0 orders
  // identically and stays exact in a double.
  pqInitial: 0,
  prepareQuery(vector: ArrayLike<number>, bits: number) {
    checkVector(vector, bits);
    const words = 2 * Math.ceil(bits / 64);
    const packed = new Uint32Array(words);
    packBits(vector, bits, packed, 0, words);
    return packed;
  },
  queryNorm: () => 0,
  margin(ctx: QueryContext, nodeWord: number) {
    return splitBit(ctx.query as Uint32Array, 0, ctx.nodes.u32[nodeWord + VECTOR_WORD]);
  },
  pqDistance(priority: number, margin: number, child: 0 | 1) {
    return margin === child ? priority : priority - 1;
  },
  // Popcounts are non-negative too, but a few words per item leave nothing worth skipping.
  prunable: false,
  distances(ctx: QueryContext, ids: Int32Array, from: number, to: number, out: Float64Array) {
    const { nodes, baseWord, layout: l } = ctx;
    const q = ctx.query as Uint32Array;
    const u32 = nodes.u32;
    for (let i = from; i < to; i++) {
      const v = baseWord + ids[i] * l.nodeWords + VECTOR_WORD;
      let d = 0;
      for (let w = 0; w < l.vectorWords; w++) d += popcount(q[w] ^ u32[v + w]);
      out[i] = d;
    }
  },
  normalizedDistance: (d: number) => d,
  splitProblem(nodes: NodeArrays, nodeWord: number, bits: number) {
    // create_split picks v[0] (a uint64) among the 64·words bit positions; a failed split zeroes it.
    // Float files whose nodes have this size (angular f=3 for 1..64 bits) hold floats there.
    const limit = 64 * Math.ceil(bits / 64);
    const low = nodes.u32[nodeWord + VECTOR_WORD];
    const high = nodes.u32[nodeWord + VECTOR_WORD + 1];
    return high !== 0 || low >= limit ? `splits on bit ${high * 2 ** 32 + low}, outside the ${limit} bits of its vectors (a file of another metric?)` : null;
  },
  itemDistance(ctx: StoreContext, i: number, j: number) {
    const { baseWord, layout: l } = ctx;
    return hammingBetween(ctx.nodes.u32, baseWord + i * l.nodeWords + VECTOR_WORD, baseWord + j * l.nodeWords + VECTOR_WORD, l.vectorWords);
  },
  readVector(nodes: NodeArrays, vectorWord: number, bits: number) {
    const out = new Array<number>(bits);
    for (let e = 0; e < bits; e++) {
      const word = vectorWord + 2 * Math.floor(e / 64) + ((e % 64) >= 32 ? 1 : 0);
      out[e] = (nodes.u32[word] >>> (e % 32)) & 1;
    }
    return out;
  },
  writeItem(nodes: NodeArrays, nodeWord: number, l: NodeLayout, vector: ArrayLike<number>, bits: number) {
    packBits(vector, bits, nodes.u32, nodeWord + VECTOR_WORD, l.vectorWords);
  },
  newSplitPlane(l: NodeLayout): SplitPlane {
    return { vector: new Uint32Array(l.vectorWords), extra: 0 };
  },
  createSplit(ctx: BuildContext, ids: Int32Array, count: number, plane: SplitPlane) {
    // A random bit that splits the set, else the first one that does (Annoy's hamming split).
    const { nodes, baseWord, layout: l } = ctx;
    const dim = l.vectorWords * 32;
    const splits = (position: number): boolean => {
      let ones = 0;
      for (let k = 0; k < count; k++) ones += splitBit(nodes.u32, baseWord + ids[k] * l.nodeWords + VECTOR_WORD, position);
      return ones > 0 && ones < count;
    };
    let position = 0;
    let found = false;
    for (let t = 0; t < RANDOM_TRIES && !found; t++) {
      position = ctx.random.index(dim);
      found = splits(position);
    }
    for (let p = 0; p < dim && !found; p++) {
      position = p;
      found = splits(p);
    }
    plane.vector.fill(0);
    plane.vector[0] = position;
  },
  assignSides(ctx: BuildContext, plane: SplitPlane, ids: Int32Array, count: number, sides: Uint8Array) {
    const { nodes, baseWord, layout: l } = ctx;
    const position = plane.vector[0];
    for (let k = 0; k < count; k++) sides[k] = splitBit(nodes.u32, baseWord + ids[k] * l.nodeWords + VECTOR_WORD, position);
  },
  clearPlane(plane: SplitPlane) {
    plane.vector.fill(0);
  },
  writeSplit(nodes: NodeArrays, nodeWord: number, _l: NodeLayout, plane: SplitPlane) {
    nodes.u32.set(plane.vector as Uint32Array, nodeWord + VECTOR_WORD);
  },
});
