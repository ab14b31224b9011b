import { readFileSync } from 'node:fs';
import t from 'tap';
import { AnnoyBuilder, AnnoyIndex, IndexFormatError, storageFromBytes } from '../../src/annoy/index.js';

function smallIndex(): Uint8Array {
  const f = 4;
  const b = new AnnoyBuilder('euclidean', f, { seed: 9 });
  for (let i = 0; i < 400; i++) b.addItem(i, [Math.sin(i), Math.cos(i), Math.sin(2 * i), (i % 7) / 7]);
  b.build(3);
  return b.save();
}

const NODE = 16 + 4 * 4;
const open = (bytes: Uint8Array): AnnoyIndex => AnnoyIndex.open(storageFromBytes(bytes), 'euclidean', 4);

/** Finds the first tree node of the given kind (split when more than K descendants). */
function firstTreeNode(bytes: Uint8Array, split: boolean): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  for (let i = 400; i < bytes.byteLength / NODE; i++) {
    const nd = view.getInt32(i * NODE, true);
    if (split ? nd > 6 : nd <= 6) return i;
  }
  throw new Error('no such node');
}

t.test('a healthy file opens', async (t) => {
  const index = open(smallIndex());
  t.equal(index.getNItems(), 400);
  t.equal(index.getNTrees(), 3);
});

t.test('empty and truncated files are refused', async (t) => {
  t.throws(() => open(new Uint8Array(0)), /empty/);
  const bytes = smallIndex();
  t.throws(() => open(bytes.subarray(0, bytes.byteLength - 5)), /not a multiple of the 32-byte node/);
});

t.test('a child pointing outside the file is caught', async (t) => {
  const bytes = smallIndex().slice();
  const node = firstTreeNode(bytes, true);
  new DataView(bytes.buffer).setInt32(node * NODE + 8, 10 ** 6, true);
  t.throws(() => open(bytes), IndexFormatError);
  t.throws(() => open(bytes), /split node \d+ has child 1000000/);
});

t.test('a bucket listing a non-item is caught', async (t) => {
  const bytes = smallIndex().slice();
  const node = firstTreeNode(bytes, false);
  new DataView(bytes.buffer).setInt32(node * NODE + 8, 401, true);
  t.throws(() => open(bytes), /bucket node \d+ lists item 401/);
});

t.test('an item slot with a bogus descendant count is caught', async (t) => {
  const bytes = smallIndex().slice();
  new DataView(bytes.buffer).setInt32(5 * NODE, 7, true);
  t.throws(() => open(bytes), /item slot 5 has n_descendants 7/);
});

/**
 * The 400 items of smallIndex() under `depth` split nodes with zero hyperplanes, each having the
 * node before it as both children (the first: items 0 and 1). Every one has n_descendants 400, so
 * all are roots; acyclic, children pointing backwards, yet 2^depth paths for the search to walk.
 */
function sharedSubtrees(depth: number): Uint8Array {
  const items = smallIndex().subarray(0, 400 * NODE);
  const bytes = new Uint8Array(items.byteLength + depth * NODE);
  bytes.set(items);
  const view = new DataView(bytes.buffer);
  for (let j = 0; j < depth; j++) {
    const node = 400 + j;
    view.setInt32(node * NODE, 400, true);
    view.setInt32(node * NODE + 8, j === 0 ? 0 : node - 1, true);
    view.setInt32(node * NODE + 12, j === 0 ? 1 : node - 1, true);
  }
  return bytes;
}

t.test('split nodes sharing a child are refused: the search would walk every path (a query that never ends)', async (t) => {
  t.throws(() => open(sharedSubtrees(40)), /tree node \d+ is reached twice from the 40 roots/);
  // One level of sharing is refused as well.
  t.throws(() => open(sharedSubtrees(2)), /reached twice/);
});

t.test("an original root kept beside its copy (a multi-threaded Annoy build's root order) opens: only sharing below the roots is refused", async (t) => {
  // Real Annoy, one thread: [items][trees][root copies], the last tree's root right before the
  // copies. Swapping the last two copies makes the file a multi-threaded build can write (the
  // tree finished last is not the one copied last): load()'s fix-up then keeps that original root
  // beside its copy, and Annoy searches its tree twice.
  const bytes = new Uint8Array(readFileSync(new URL('../../../test/fixtures/angular-f40-s1/index.ann', import.meta.url)));
  const node = 12 + 4 * 40;
  const nodes = bytes.length / node;
  const last = bytes.slice((nodes - 1) * node);
  bytes.copyWithin((nodes - 1) * node, (nodes - 2) * node, (nodes - 1) * node);
  bytes.set(last, (nodes - 2) * node);
  const index = AnnoyIndex.open(storageFromBytes(bytes), 'angular', 40);
  t.equal(index.getNTrees(), 11, 'ten copies and the original root, as Annoy loads it');
  t.equal(index.getNnsByItem(7, 5).ids[0], 7, 'and it answers');
});

t.test('random bytes of a plausible size are refused', async (t) => {
  const bytes = new Uint8Array(NODE * 300);
  let s = 7;
  for (let i = 0; i < bytes.length; i++) bytes[i] = s = (s * 73 + 41) & 255;
  t.throws(() => open(bytes), IndexFormatError);
});

t.test('the wrong metric with a dividing size is refused, not served', async (t) => {
  // angular f=5 nodes are 32 bytes too: same size, other layout.
  const bytes = smallIndex();
  t.throws(() => AnnoyIndex.open(storageFromBytes(bytes), 'angular', 5), IndexFormatError);
  const summary = AnnoyIndex.inspect(storageFromBytes(bytes), 'angular', 5);
  t.equal(summary.valid, false);
  t.match(summary.error, /not a valid angular f=5/);
});

t.test('an angular file read as dot with one dimension fewer is refused', async (t) => {
  // angular f=5 and dot f=4 nodes are both 32 bytes with the same tree fields, so the structure
  // fits; only the item fields tell: angular's v[0] lands on dot_factor, which Annoy's dot
  // preprocessing always sets to a square root (never negative).
  const b = new AnnoyBuilder('angular', 5, { seed: 3 });
  for (let i = 0; i < 300; i++) b.addItem(i, [Math.sin(i), Math.cos(3 * i), Math.sin(5 * i), Math.cos(i) / 2, (i % 5) - 2]);
  b.build(4);
  const bytes = b.save();
  t.throws(() => AnnoyIndex.open(storageFromBytes(bytes), 'dot', 4), /not a valid dot f=4 \(32-byte nodes\) index: item 4 has dot_factor -0\.75\d+/);
  const summary = AnnoyIndex.inspect(storageFromBytes(bytes), 'dot', 4);
  t.equal(summary.valid, false);
  t.match(summary.error, /an angular index of 5 dimensions\?/);

  // Genuine dot files, holes included, still open.
  const d = new AnnoyBuilder('dot', 4, { seed: 3 });
  for (let i = 0; i < 300; i += 2) d.addItem(i, [Math.sin(i), Math.cos(3 * i), -Math.abs(Math.sin(5 * i)), (i % 5) - 2]);
  d.build(4);
  t.equal(AnnoyIndex.open(storageFromBytes(d.save()), 'dot', 4).getNItems(), 299);
});

t.test('a float file read as hamming is refused: its split "bits" are floats', async (t) => {
  // angular f=3 nodes are 24 bytes, like hamming nodes of 1..64 bits: the structure fits, but a
  // hamming split keeps the bit it splits on in v[0], and Annoy picks it among the vector's bits.
  const b = new AnnoyBuilder('angular', 3, { seed: 3 });
  for (let i = 0; i < 300; i++) b.addItem(i, [Math.sin(i), Math.cos(3 * i), Math.sin(5 * i)]);
  b.build(3);
  const bytes = b.save();
  for (const bits of [1, 64]) {
    t.throws(() => AnnoyIndex.open(storageFromBytes(bytes), 'hamming', bits), /not a valid hamming f=\d+ \(24-byte nodes\) index: split node \d+ splits on bit \d+, outside the 64 bits of its vectors/);
  }

  // Genuine hamming files, split bits anywhere in their words, still open.
  for (const bits of [1, 64, 65, 200]) {
    const h = new AnnoyBuilder('hamming', bits, { seed: 3 });
    for (let i = 0; i < 300; i++) h.addItem(i, Array.from({ length: bits }, (_, j) => ((i * 7 + j * 13) % 5 > 1 ? 1 : 0)));
    h.build(3);
    t.equal(AnnoyIndex.open(storageFromBytes(h.save()), 'hamming', bits).getNItems(), 300, `${bits} bits`);
  }
});

t.test('search arguments are checked', async (t) => {
  const index = open(smallIndex());
  t.throws(() => index.getNnsByItem(0, -1), /n must be/);
  t.throws(() => index.getNnsByItem(0, 1.5), /n must be/);
  t.throws(() => index.getNnsByItem(0, 5, -2), /search_k/);
  t.throws(() => index.getNnsByVector([1, 2, 3], 5), /vector has 3 values, index expects 4/);
  t.throws(() => index.getNnsByVector([1, 2, 3, Infinity], 5), /finite/);
  t.same(index.getNnsByItem(0, 0).ids, []);
  t.same(index.getNnsByItem(0, 5, 0).ids, [], 'search_k 0 collects nothing, as in Annoy');
  t.equal(index.getNnsByItem(0, 1000, -1).ids.length <= 400, true);
  t.equal(index.getNnsByItem(0, 1).ids[0], 0, 'an item is its own nearest neighbour');
});
