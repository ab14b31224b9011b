import t from 'tap';
import { AnnoyBuilder, AnnoyIndex, AnnoyInputError, METRIC_NAMES, allocateStorage, storageBytes, storageFromBytes, type MetricName } from '../../src/annoy/index.js';
import { buildIndex } from '../../src/build/build-index.js';

/** Deterministic data so failures reproduce. */
function randomVectors(n: number, f: number, seed: number, bits = false): Float32Array {
  let s = seed >>> 0;
  const next = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const out = new Float32Array(n * f);
  for (let i = 0; i < out.length; i++) out[i] = bits ? (next() < 0.5 ? 0 : 1) : next() * 2 - 1;
  return out;
}

function exactNeighbours(index: AnnoyIndex, item: number, k: number, metric: MetricName): number[] {
  const all: Array<[number, number]> = [];
  for (let j = 0; j < index.getNItems(); j++) if (index.hasItem(j)) all.push([index.getDistance(item, j), j]);
  all.sort((a, b) => (metric === 'dot' ? b[0] - a[0] : a[0] - b[0]) || a[1] - b[1]);
  return all.slice(0, k).map(([, j]) => j);
}

function recallAt10(index: AnnoyIndex, metric: MetricName, queries: number, searchK: number): number {
  let hits = 0;
  for (let q = 0; q < queries; q++) {
    const truth = new Set(exactNeighbours(index, q, 10, metric));
    hits += index.getNnsByItem(q, 10, searchK).ids.filter((id) => truth.has(id)).length;
  }
  return hits / (queries * 10);
}

function open(file: Uint8Array, metric: MetricName, f: number): AnnoyIndex {
  const storage = allocateStorage(file.byteLength);
  storageBytes(storage).set(file);
  return AnnoyIndex.open(storage, metric, f);
}

t.test('the three-item example from the format notes', async (t) => {
  const b = new AnnoyBuilder('euclidean', 2);
  b.addItem(0, [2, 2]);
  b.addItem(1, [3, 2]);
  b.addItem(2, [3, 3]);
  b.build(10);
  const file = b.save();
  t.equal(file.byteLength, 23 * 24, '3 items + 10 buckets + 10 root copies of 24 bytes');
  const index = AnnoyIndex.open(storageFromBytes(file), 'euclidean', 2);
  const r = index.getNnsByVector([4, 4], 3, -1, true);
  t.same(r.ids, [2, 1, 0]);
  t.ok(Math.abs(r.distances![0] - Math.SQRT2) < 1e-6 && Math.abs(r.distances![2] - 2 * Math.SQRT2) < 1e-6);
  t.equal(index.getNTrees(), 19, 'n_items <= K keeps 2·n_trees − 1 roots, as Annoy does');
});

t.test('dot returns the largest inner products first', async (t) => {
  const b = new AnnoyBuilder('dot', 2);
  [[2, 2], [3, 2], [3, 3]].forEach((v, i) => b.addItem(i, v));
  b.build(10);
  const r = AnnoyIndex.open(storageFromBytes(b.save()), 'dot', 2).getNnsByVector([1, 1], 3, -1, true);
  t.same(r.ids, [2, 1, 0]);
  t.same(r.distances, [6, 5, 4]);
});

t.test('holes: only the added ids exist and are returned', async (t) => {
  const b = new AnnoyBuilder('angular', 3);
  b.addItem(5, [1, 0, 0]);
  b.addItem(9, [0, 1, 0]);
  b.build(3);
  const index = AnnoyIndex.open(storageFromBytes(b.save()), 'angular', 3);
  t.equal(index.getNItems(), 10);
  t.equal(index.getNHoles(), 8);
  t.notOk(index.hasItem(0));
  t.ok(index.hasItem(5));
  t.same(index.getNnsByVector([1, 1, 0], 10).ids.sort(), [5, 9]);
  t.throws(() => index.getItemVector(3), AnnoyInputError);
  t.throws(() => index.getNnsByItem(10, 1), /not in the index/);
});

t.test('one item whose id is above K: builds, opens and is found, for every metric', async (t) => {
  for (const metric of METRIC_NAMES) {
    const f = metric === 'hamming' ? 64 : 3;
    const b = new AnnoyBuilder(metric, f);
    b.addItem(1000, metric === 'hamming' ? randomVectors(1, f, 3, true) : [1, 2, 3]);
    b.build(3);
    const index = AnnoyIndex.open(storageFromBytes(b.save()), metric, f);
    t.equal(index.getNItems(), 1001, `${metric}: 1001 item slots`);
    t.same(index.getNnsByItem(1000, 5).ids, [1000], `${metric}: the item is its own neighbour`);
  }
});

t.test('n_trees = -1 builds until the file holds about 2·n_items nodes', async (t) => {
  const f = 8;
  const data = randomVectors(3000, f, 11);
  const b = new AnnoyBuilder('euclidean', f);
  for (let i = 0; i < 3000; i++) b.addItem(i, data.subarray(i * f, (i + 1) * f));
  b.build(-1);
  const file = b.save();
  const index = AnnoyIndex.open(storageFromBytes(file), 'euclidean', f);
  const nodes = file.byteLength / index.nodeBytes;
  t.ok(nodes - index.getNTrees() >= 2 * 3000, `${nodes} nodes (roots excluded) >= 2·n_items`);
  t.ok(index.getNTrees() > 1);
});

t.test('hamming vectors pack and unpack bit for bit', async (t) => {
  const bits = 100;
  const data = randomVectors(50, bits, 5, true);
  const b = new AnnoyBuilder('hamming', bits);
  for (let i = 0; i < 50; i++) b.addItem(i, data.subarray(i * bits, (i + 1) * bits));
  b.build(4);
  const index = AnnoyIndex.open(storageFromBytes(b.save()), 'hamming', bits);
  t.equal(index.nodeBytes, 16 + 8 * 2);
  t.same(index.getItemVector(7), Array.from(data.subarray(7 * bits, 8 * bits)));
  let expected = 0;
  for (let z = 0; z < bits; z++) expected += data[3 * bits + z] !== data[8 * bits + z] ? 1 : 0;
  t.equal(index.getDistance(3, 8), expected);
});

t.test('same seed, same bytes; another seed, other trees', async (t) => {
  const f = 6;
  const data = randomVectors(500, f, 3);
  const build = (seed: number): Uint8Array => {
    const b = new AnnoyBuilder('angular', f, { seed });
    for (let i = 0; i < 500; i++) b.addItem(i, data.subarray(i * f, (i + 1) * f));
    b.build(5);
    return b.save();
  };
  t.same(Buffer.from(build(1)), Buffer.from(build(1)));
  t.notSame(Buffer.from(build(1)), Buffer.from(build(2)));
  // Seed 0 used to be swapped for the generator's default, so it built what 123456789 builds.
  t.notSame(Buffer.from(build(0)), Buffer.from(build(123456789)), 'seed 0 is a seed of its own');
  t.same(Buffer.from(build(0)), Buffer.from(build(0)));
});

t.test('builder refuses what Annoy refuses', async (t) => {
  const b = new AnnoyBuilder('euclidean', 3);
  t.throws(() => b.addItem(-1, [1, 2, 3]), AnnoyInputError);
  t.throws(() => b.addItem(2 ** 31, [1, 2, 3]), AnnoyInputError);
  t.throws(() => b.addItem(0, [1, 2]), /expects 3/);
  t.throws(() => b.addItem(0, [1, NaN, 3]), /finite/);
  t.throws(() => b.save(), /before/);
  t.throws(() => b.build(3), /no items/);
  b.addItem(0, [1, 2, 3]);
  b.build(2);
  t.throws(() => b.build(2), /twice/);
  t.throws(() => b.addItem(1, [1, 2, 3]), /after/);
  t.throws(() => new AnnoyBuilder('cosine' as MetricName, 3), /unknown metric/);
});

for (const metric of METRIC_NAMES) {
  t.test(`${metric}: parallel build is a valid forest with the same recall as one thread`, async (t) => {
    const f = metric === 'hamming' ? 64 : 16;
    const n = 2000;
    const vectors = randomVectors(n, f, 21, metric === 'hamming');
    const single = open(await buildIndex({ metric, dimensions: f, vectors, nTrees: 8, seed: 4, threads: 1 }), metric, f);
    let progress = 0;
    let addedAfterTrees = -1;
    const parallel = open(
      await buildIndex({ metric, dimensions: f, vectors, nTrees: 8, seed: 4, threads: 2, onProgress: () => progress++, onItemsAdded: () => (addedAfterTrees = progress) }),
      metric,
      f,
    );
    t.equal(parallel.getNTrees(), 8);
    t.equal(progress, 8, 'one progress tick per tree');
    t.equal(addedAfterTrees, 0, 'items are all added before the first tree');
    t.equal(parallel.getNItems(), n);
    const r1 = recallAt10(single, metric, 60, 400);
    const r2 = recallAt10(parallel, metric, 60, 400);
    t.ok(Math.abs(r1 - r2) < 0.1, `recall@10 one thread ${r1.toFixed(3)} vs two ${r2.toFixed(3)}`);
    t.ok(r2 > 0.3, `recall@10 ${r2.toFixed(3)} is far above chance`);
  });
}

t.test('a bad item fails a parallel build cleanly: the started workers are stopped', async (t) => {
  const vectors = new Float32Array(40 * 8).fill(1);
  vectors[17] = NaN;
  await t.rejects(buildIndex({ metric: 'euclidean', dimensions: 8, vectors, nTrees: 4, seed: 1, threads: 2 }));
});

t.test('values that overflow float32 are refused when adding items and when querying', async (t) => {
  const b = new AnnoyBuilder('euclidean', 3);
  t.throws(() => b.addItem(0, [1, 1e39, 2]), /vector\[1\] is 1e\+39; every value must be a finite 32-bit float/);
  b.addItem(0, [1, 2, 3]);
  b.addItem(1, [3, 2, 1]);
  b.build(2);
  const index = open(b.save(), 'euclidean', 3);
  t.throws(() => index.getNnsByVector([0, -1e39, 0], 1), /vector\[1\] is -1e\+39/);
});

t.test('more threads than trees: the build still gives every tree once', async (t) => {
  const vectors = randomVectors(300, 8, 9, false);
  const index = open(await buildIndex({ metric: 'euclidean', dimensions: 8, vectors, nTrees: 2, seed: 1, threads: 4 }), 'euclidean', 8);
  t.equal(index.getNTrees(), 2);
  t.equal(index.getNItems(), 300);
});
