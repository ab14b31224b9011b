// Regenerates the committed Annoy fixtures under test/fixtures/<case>/ from the real Annoy:
//
//   test/reference/build.sh --require && node test/reference/make-fixtures.mjs
//
// Each case gets index.ann (built by Annoy 1.17 through build/annoy-ref), meta.json and cases.json
// (queries with Annoy's answers, get_distance pairs, get_item_vector samples). The data comes from
// a seeded PRNG, so rerunning produces identical files; a diff after regeneration means the
// reference program or the header changed. One exception: Annoy builds split nodes in an
// uninitialised stack buffer, so hamming split nodes carry stack garbage in their 4 padding bytes
// and in v[1..] (only v[0], the split bit, is set); those bytes differ from run to run.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const annoyRef = join(here, 'build', 'annoy-ref');
const fixturesDir = join(here, '..', 'fixtures');

/** mulberry32: tiny, well-mixed, reproducible across Node versions. */
function prng(seed) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const gaussian = () => {
    const u = 1 - next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
  };
  const int = (n) => Math.floor(next() * n);
  return { next, gaussian, int };
}

/**
 * Clustered data: neighbours then mean something, and ANN recall is not trivially perfect.
 * Hamming gets 0/1 vectors (cluster bits with 10 % flipped); dot gets varying norms so the
 * dot_factor transform matters.
 */
function makeVectors(rng, metric, dimensions, count, clusters = 20) {
  const centers = Array.from({ length: clusters }, () =>
    Array.from({ length: dimensions }, () => (metric === 'hamming' ? (rng.next() < 0.5 ? 1 : 0) : 3 * rng.gaussian())),
  );
  return Array.from({ length: count }, () => randomNear(rng, metric, centers[rng.int(clusters)]));
}

function randomNear(rng, metric, center) {
  if (metric === 'hamming') return center.map((bit) => (rng.next() < 0.1 ? 1 - bit : bit));
  const scale = metric === 'dot' ? 0.25 + 1.5 * rng.next() : 1;
  return center.map((c) => Math.fround(scale * (c + rng.gaussian())));
}

function writeF32(path, rows) {
  const flat = new Float32Array(rows.flat());
  writeFileSync(path, new Uint8Array(flat.buffer));
}

function runRef(args, input) {
  return execFileSync(annoyRef, args, { input, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
}

const N_VALUES = [1, 10, 100];
const SEARCH_K_VALUES = [-1, 7, 100, 1000, 100000];

/**
 * Query plan: ~30 by item and ~30 by vector covering every (n, search_k) pair, plus the edge
 * cases each case asks for (n beyond the item count, zero vectors, exact copies of items).
 */
function planQueries(rng, spec, vectors, presentIds) {
  const queries = [];
  for (let k = 0; k < 30; k++) {
    const n = N_VALUES[k % 3];
    const searchK = SEARCH_K_VALUES[Math.floor(k / 3) % 5];
    queries.push({ kind: 'item', item: presentIds[rng.int(presentIds.length)], n, searchK });
  }
  for (let k = 0; k < 30; k++) {
    const n = N_VALUES[k % 3];
    const searchK = SEARCH_K_VALUES[Math.floor(k / 3) % 5];
    const item = vectors[rng.int(vectors.length)];
    let vector;
    if (k % 10 === 9) vector = item.slice(); // distance 0 to an item
    else if (k % 2 === 0) vector = randomNear(rng, spec.metric, item);
    else vector = makeVectors(rng, spec.metric, spec.dimensions, 1, 1)[0]; // away from the clusters
    queries.push({ kind: 'vector', vector, n, searchK });
  }
  if (spec.metric !== 'hamming') {
    queries.push({ kind: 'vector', vector: new Array(spec.dimensions).fill(0), n: 10, searchK: -1 });
    queries.push({ kind: 'vector', vector: new Array(spec.dimensions).fill(0), n: 10, searchK: 1000 });
  } else {
    queries.push({ kind: 'vector', vector: new Array(spec.dimensions).fill(0), n: 10, searchK: -1 });
    queries.push({ kind: 'vector', vector: new Array(spec.dimensions).fill(1), n: 10, searchK: 1000 });
  }
  for (const vector of spec.extraVectors ?? []) {
    for (const n of [1, 3, 10]) queries.push({ kind: 'vector', vector, n, searchK: -1 });
  }
  for (const n of spec.extraN ?? []) {
    // Answers this long are big: large cases get one query of each kind, not four.
    const large = n > 1000;
    for (const searchK of [-1, 100000]) {
      if (!large || searchK === -1) queries.push({ kind: 'item', item: presentIds[rng.int(presentIds.length)], n, searchK });
      if (!large || searchK !== -1) queries.push({ kind: 'vector', vector: randomNear(rng, spec.metric, vectors[rng.int(vectors.length)]), n, searchK });
    }
  }
  return queries;
}

function buildCase(spec) {
  const rng = prng(spec.dataSeed ?? spec.seed * 7919 + 13);
  const vectors = spec.vectors ?? makeVectors(rng, spec.metric, spec.dimensions, spec.count);
  const ids = spec.ids ?? vectors.map((_, i) => i);
  const dir = join(fixturesDir, spec.name);
  const tmp = mkdtempSync(join(tmpdir(), 'annoy-fixture-'));
  try {
    mkdirSync(dir, { recursive: true });
    const vectorsPath = join(tmp, 'vectors.f32');
    writeF32(vectorsPath, vectors);
    const buildArgs = ['build', spec.metric, String(spec.dimensions), String(spec.trees), String(spec.seed), vectorsPath, join(dir, 'index.ann')];
    if (spec.ids) {
      const idsPath = join(tmp, 'ids.i32');
      writeFileSync(idsPath, new Uint8Array(new Int32Array(ids).buffer));
      buildArgs.push(idsPath);
    }
    runRef(buildArgs);
    const base = [spec.metric, String(spec.dimensions), join(dir, 'index.ann')];
    const info = JSON.parse(runRef(['info', ...base]));

    const queries = planQueries(rng, spec, vectors, ids);
    const lines = queries.map((q) => (q.kind === 'item' ? `item ${q.item} ${q.n} ${q.searchK}` : `vector ${q.n} ${q.searchK} ${q.vector.join(' ')}`));
    const answers = runRef(['query', ...base], lines.join('\n') + '\n').trim().split('\n').map((line) => JSON.parse(line));
    queries.forEach((q, i) => Object.assign(q, { expected: answers[i] }));

    const pairs = [];
    for (let k = 0; k < 20; k++) {
      const i = ids[rng.int(ids.length)];
      const j = k === 0 ? i : ids[rng.int(ids.length)];
      pairs.push({ i, j, distance: JSON.parse(runRef(['distance', ...base, String(i), String(j)])).distance });
    }
    const items = [];
    for (let k = 0; k < 5; k++) {
      const i = ids[rng.int(ids.length)];
      items.push({ item: i, vector: JSON.parse(runRef(['item', ...base, String(i)])).vector });
    }
    const present = new Set(ids);
    const holes = [];
    for (let i = 0; i < info.n_items && holes.length < 20; i++) if (!present.has(i)) holes.push(i);

    const bytes = statSync(join(dir, 'index.ann')).size;
    const meta = {
      description: spec.description,
      annoy: 'Annoy 1.17 (annoylib.h from Debian r-cran-rcppannoy 0.0.20), S=int32_t, Kiss64Random, 1 build thread',
      metric: spec.metric,
      dimensions: spec.dimensions,
      trees: spec.trees,
      seed: spec.seed,
      itemsAdded: ids.length,
      nItems: info.n_items,
      nTrees: info.n_trees,
      bytes,
    };
    writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
    // One query per line keeps the file diffable and still valid JSON.
    const body = [
      '{',
      `"holes": ${JSON.stringify(holes)},`,
      `"distances": ${JSON.stringify(pairs)},`,
      `"items": ${JSON.stringify(items)},`,
      '"queries": [',
      queries.map((q) => JSON.stringify(q)).join(',\n'),
      ']',
      '}',
    ].join('\n');
    writeFileSync(join(dir, 'cases.json'), body + '\n');
    console.log(`${spec.name}: ${info.n_items} items, ${info.n_trees} trees, ${bytes} bytes, ${queries.length} queries`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function duplicated(rng, metric, dimensions, distinct, copies) {
  const base = makeVectors(rng, metric, dimensions, distinct, 5);
  // Copies are spread over the id range (id d + k*distinct), so ties cross tree buckets.
  return Array.from({ length: distinct * copies }, (_, i) => base[i % distinct].slice());
}

const cases = [];
for (const [metric, seeds] of [['angular', [1, 42]], ['euclidean', [1, 42]], ['manhattan', [1]], ['dot', [1, 42]]]) {
  for (const seed of seeds) {
    cases.push({ name: `${metric}-f40-s${seed}`, description: `${metric}, 2,000 clustered items, f=40`, metric, dimensions: 40, count: 2000, trees: 10, seed, extraN: [2005] });
  }
}
cases.push({ name: 'hamming-b64-s1', description: 'hamming, 2,000 clustered 64-bit items', metric: 'hamming', dimensions: 64, count: 2000, trees: 10, seed: 1, extraN: [2005] });
cases.push({ name: 'hamming-b100-s42', description: 'hamming, 2,000 clustered 100-bit items (2 words, 28 padding bits)', metric: 'hamming', dimensions: 100, count: 2000, trees: 10, seed: 42, extraN: [2005] });
{
  const rng = prng(3);
  const ids = Array.from({ length: 501 }, (_, i) => 3 * i);
  cases.push({ name: 'holes-euclidean-f40', description: 'ids 0,3,..,1500 only: 1,000 holes', metric: 'euclidean', dimensions: 40, trees: 10, seed: 1, vectors: makeVectors(rng, 'euclidean', 40, ids.length), ids, extraN: [600, 1600] });
}
cases.push({ name: 'small-angular-f40', description: '20 items <= K=42: every root is one bucket (2*n_trees-1 roots found on load)', metric: 'angular', dimensions: 40, count: 20, trees: 10, seed: 1, extraN: [20, 25] });
{
  const rng = prng(5);
  cases.push({ name: 'only5-angular-f4', description: 'only id 5 added: 6 items, ids 0..4 are holes', metric: 'angular', dimensions: 4, trees: 3, seed: 1, vectors: makeVectors(rng, 'angular', 4, 1, 1), ids: [5], extraN: [6, 10] });
}
{
  // Annoy writes a lone item's root as a one-id bucket; with n_items > K its n_descendants (= n_items)
  // makes it read as a split node whose second child is hole 0.
  const rng = prng(9);
  cases.push({ name: 'only9-euclidean-f2', description: 'only id 9 added: 10 items > K=4, the roots are one-id buckets read as splits', metric: 'euclidean', dimensions: 2, trees: 3, seed: 1, vectors: makeVectors(rng, 'euclidean', 2, 1, 1), ids: [9], extraN: [10] });
}
{
  const rng = prng(7);
  cases.push({ name: 'ties-euclidean-f8', description: '50 distinct vectors x 4 copies: exact distance ties', metric: 'euclidean', dimensions: 8, trees: 10, seed: 1, vectors: duplicated(rng, 'euclidean', 8, 50, 4), extraN: [200, 250] });
  cases.push({ name: 'ties-angular-f8', description: '10 distinct vectors x 20 copies (> K=10): forces the random-split fallback', metric: 'angular', dimensions: 8, trees: 10, seed: 1, vectors: duplicated(rng, 'angular', 8, 10, 20), extraN: [200, 250] });
}
{
  // At f=20 a SIMD dot can add the same 20 products in several orders, yet every copy of a vector
  // must get the same distance wherever it falls among the candidates: Annoy ranks copies by id.
  // Queries near a copied vector, asking for fewer results than there are copies, show the order.
  const rng = prng(13);
  const vectors = duplicated(rng, 'dot', 20, 60, 4);
  const extraVectors = Array.from({ length: 60 }, (_, k) => randomNear(rng, 'dot', vectors[k]));
  cases.push({ name: 'dups-dot-f20', description: '60 distinct vectors x 4 copies: tied copies must come in id order', metric: 'dot', dimensions: 20, trees: 10, seed: 1, vectors, extraVectors, extraN: [240] });
}
cases.push({ name: 'example3-euclidean-f2', description: 'annoy-format.md: [2,2],[3,2],[3,3]; [4,4] -> [2,1,0], [1.4142,2.2361,2.8284]', metric: 'euclidean', dimensions: 2, trees: 10, seed: 1, vectors: [[2, 2], [3, 2], [3, 3]], extraVectors: [[4, 4]], extraN: [3, 5] });
cases.push({ name: 'example3-dot-f2', description: 'annoy-format.md: dot [2,2],[3,2],[3,3] queried with [1,1] -> [2,1,0], [6,5,4]', metric: 'dot', dimensions: 2, trees: 10, seed: 1, vectors: [[2, 2], [3, 2], [3, 3]], extraVectors: [[1, 1]], extraN: [3, 5] });

const only = process.argv.slice(2);
for (const spec of cases) if (only.length === 0 || only.includes(spec.name)) buildCase(spec);
