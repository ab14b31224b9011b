// nnserve's engine against answers recorded from the real Annoy 1.17 (test/fixtures, made by
// test/reference/make-fixtures.mjs): same ids in the same order, same distances, on both kernel
// paths (WebAssembly SIMD storage and plain SharedArrayBuffer with JS kernels).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { AnnoyIndex, AnnoyInputError, IndexFormatError, METRIC_NAMES, storageFromBytes, type MetricName } from '../../src/annoy/index.js';
import { readIndexFile } from '../../src/index-files/read-storage.js';
import { compareAnswer, describeQuery, distanceMatches, loadFixtures, type Fixture } from '../helpers/fixtures.js';

const fixtures = loadFixtures();
const MAX_REPORTED = 5;

/** Node size and where `children` starts: two (metric, f) with the same pair read a file identically. */
function layoutOf(metric: MetricName, f: number): { bytes: number; children: number } {
  switch (metric) {
    case 'angular':
      return { bytes: 12 + 4 * f, children: 4 };
    case 'dot':
      return { bytes: 16 + 4 * f, children: 4 };
    case 'hamming':
      return { bytes: 16 + 8 * Math.ceil(f / 64), children: 4 };
    case 'euclidean':
    case 'manhattan':
      return { bytes: 16 + 4 * f, children: 8 };
  }
}

/**
 * Every wrong (metric, f) whose node size divides the file, so Annoy itself would load it. Layout
 * aliases are left out: angular f, dot f-1 and hamming with (f-1)/2 words share node size,
 * children offset and bucket capacity (as do euclidean and manhattan), so no structural check can
 * tell them apart.
 */
function wrongGeometries(meta: Fixture['meta']): { metric: MetricName; f: number }[] {
  const truth = layoutOf(meta.metric, meta.dimensions);
  const out: { metric: MetricName; f: number }[] = [];
  for (const metric of METRIC_NAMES) {
    const dims = metric === 'hamming' ? Array.from({ length: 32 }, (_, w) => 64 * (w + 1)) : Array.from({ length: 256 }, (_, k) => k + 1);
    for (const f of dims) {
      const layout = layoutOf(metric, f);
      if (meta.bytes % layout.bytes !== 0) continue;
      if (layout.bytes === truth.bytes && layout.children === truth.children) continue;
      out.push({ metric, f });
    }
  }
  return out;
}

function runQuery(index: AnnoyIndex, q: Fixture['cases']['queries'][number], includeDistances = true) {
  return q.kind === 'item' ? index.getNnsByItem(q.item, q.n, q.searchK, includeDistances) : index.getNnsByVector(q.vector, q.n, q.searchK, includeDistances);
}

t.test('the facts annoy-format.md states hold for the Annoy-built example', async (t) => {
  const example = fixtures.find((f) => f.name === 'example3-euclidean-f2');
  if (!example) return t.fail('fixture example3-euclidean-f2 is missing');
  t.equal(example.meta.bytes, 23 * 24, '3 items, 10 trees: 23 nodes of 24 bytes');
  const index = AnnoyIndex.open(readIndexFile(example.indexPath), 'euclidean', 2);
  const { ids, distances = [] } = index.getNnsByVector([4, 4], 3, -1, true);
  t.same(ids, [2, 1, 0]);
  t.same(distances.map((d) => Math.round(d * 1e4) / 1e4), [1.4142, 2.2361, 2.8284]);
});

for (const fixture of fixtures) {
  const { meta, cases } = fixture;
  t.test(`${fixture.name}: ${meta.metric} f=${meta.dimensions}, ${meta.nItems} items`, async (t) => {
    for (const wasm of [true, false]) {
      t.test(wasm ? 'wasm storage' : 'JS storage', async (t) => {
        const index = AnnoyIndex.open(readIndexFile(fixture.indexPath, { wasm }), meta.metric, meta.dimensions);
        t.equal(index.byteLength, meta.bytes, 'byteLength');
        t.equal(index.getNItems(), meta.nItems, 'get_n_items as Annoy');
        t.equal(index.getNTrees(), meta.nTrees, 'get_n_trees as Annoy');

        const failures: string[] = [];
        const holes = new Set(cases.holes);
        let holeReturned: string | undefined;
        for (const q of cases.queries) {
          const got = runQuery(index, q);
          const problem = compareAnswer(meta.metric, q.expected, got);
          if (problem) failures.push(`${describeQuery(q)}: ${problem}`);
          const hole = got.ids.find((id) => holes.has(id) || !index.hasItem(id));
          if (hole !== undefined) holeReturned ??= `${describeQuery(q)} returned hole ${hole}`;
        }
        t.same(failures.slice(0, MAX_REPORTED), [], `${cases.queries.length} queries match Annoy (${failures.length} differ)`);
        t.notOk(holeReturned, 'no hole is ever returned');

        const first = cases.queries[0];
        const plain = runQuery(index, first, false);
        t.same(plain.ids, runQuery(index, first).ids, 'same ids without distances');
        t.equal(plain.distances, undefined, 'no distances unless asked');

        const badDistances = cases.distances
          .map(({ i, j, distance }) => ({ i, j, distance, got: index.getDistance(i, j) }))
          .filter(({ distance, got }) => !distanceMatches(meta.metric, distance, got));
        t.same(badDistances, [], `${cases.distances.length} get_distance pairs match Annoy`);

        for (const { item, vector } of cases.items) {
          // Annoy printed float32 values with 9 significant digits, which round-trips them exactly.
          t.same(index.getItemVector(item), vector.map(Math.fround), `get_item_vector(${item}) equals Annoy's exactly`);
        }

        for (const hole of cases.holes) {
          if (index.hasItem(hole)) t.fail(`hasItem(${hole}) is true for a hole`);
          t.throws(() => index.getNnsByItem(hole, 5), AnnoyInputError, `get_nns_by_item(hole ${hole}) is a caller error`);
          t.throws(() => index.getItemVector(hole), AnnoyInputError);
          break; // one hole is enough for the throwing paths
        }
        t.notOk(cases.holes.some((h) => index.hasItem(h)), `hasItem false for ${cases.holes.length} holes`);
        t.notOk(index.hasItem(-1) || index.hasItem(meta.nItems), 'hasItem false out of range');
      });
    }

    t.test('damaged or mismatched files throw IndexFormatError', async (t) => {
      const bytes = new Uint8Array(readFileSync(fixture.indexPath));
      const nodeBytes = layoutOf(meta.metric, meta.dimensions).bytes;
      const open = (data: Uint8Array, metric: MetricName = meta.metric, f = meta.dimensions) => AnnoyIndex.open(storageFromBytes(data), metric, f);

      t.throws(() => open(new Uint8Array(0)), IndexFormatError, 'empty file');
      t.throws(() => open(bytes.slice(0, bytes.length - 1)), IndexFormatError, 'one byte short');
      if (meta.nItems >= 1000) {
        const nodes = bytes.length / nodeBytes;
        // A cut at a node boundary keeps the size valid. It must not fall right after a tree's
        // root (n_descendants == n_items): that prefix is a smaller but valid index.
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        let inTrees = Math.floor(meta.nItems + 0.6 * (nodes - meta.nItems));
        while (view.getInt32((inTrees - 1) * nodeBytes, true) === meta.nItems) inTrees++;
        t.throws(() => open(bytes.slice(0, inTrees * nodeBytes)), IndexFormatError, `cut to ${inTrees} of ${nodes} nodes (inside the trees)`);
        const inItems = Math.floor(meta.nItems / 2);
        t.throws(() => open(bytes.slice(0, inItems * nodeBytes)), IndexFormatError, `cut to ${inItems} of ${nodes} nodes (inside the items)`);

        const wrong = wrongGeometries(meta);
        const accepted = wrong.filter(({ metric, f }) => {
          try {
            open(bytes, metric, f);
            return true;
          } catch (error) {
            if (!(error instanceof IndexFormatError)) throw error;
            return false;
          }
        });
        t.same(accepted, [], `all ${wrong.length} wrong metric/dimension pairs whose node size divides the file are refused`);
      }
    });
  });
}
