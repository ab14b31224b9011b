import t from 'tap';
import { AnnoyBuilder, AnnoyIndex, storageFromBytes, type MetricName } from '../../src/annoy/index.js';

const F = 4;

function build(metric: MetricName, holeAt?: number): Uint8Array {
  const b = new AnnoyBuilder(metric, F, { seed: 3 });
  for (let i = 0; i < 300; i++) if (i !== holeAt) b.addItem(i, [Math.sin(i), Math.cos(i), (i % 5) / 5, metric === 'hamming' ? 1 : 0.5]);
  b.build(3);
  return b.save();
}

/** Overwrites item i's vector[d] in the file's bytes, as a faulty upstream would have written it (the vector ends its node). */
function setComponent(bytes: Uint8Array, metric: MetricName, item: number, d: number, value: number): void {
  const index = AnnoyIndex.open(storageFromBytes(bytes), metric, F);
  const header = index.nodeBytes - 4 * F;
  new DataView(bytes.buffer, bytes.byteOffset).setFloat32(item * index.nodeBytes + header + 4 * d, value, true);
}

const open = (bytes: Uint8Array, metric: MetricName = 'euclidean') => AnnoyIndex.open(storageFromBytes(bytes), metric, F);

t.test('a healthy index has no unusable item, and inspect says nothing of one', async (t) => {
  for (const metric of ['angular', 'euclidean', 'manhattan', 'dot', 'hamming'] as const) {
    const bytes = build(metric);
    t.equal(open(bytes, metric).findUnusableItem(), null, metric);
    t.notOk('unusableItem' in AnnoyIndex.inspect(storageFromBytes(bytes), metric, F), metric);
  }
});

t.test('NaN and infinite components are found and named, for every float metric', async (t) => {
  for (const metric of ['angular', 'euclidean', 'manhattan', 'dot'] as const) {
    for (const value of [NaN, Infinity, -Infinity]) {
      const bytes = build(metric).slice();
      setComponent(bytes, metric, 123, 2, value);
      const index = open(bytes, metric);
      const found = index.findUnusableItem();
      t.equal(found?.item, 123, `${metric} ${value}`);
      t.match(found?.problem, `item 123's vector[2] is ${value}`);
      const summary = AnnoyIndex.inspect(storageFromBytes(bytes), metric, F);
      t.equal(summary.valid, true);
      t.match(summary.unusableItem, /item 123's vector\[2\]/);
    }
  }
});

t.test('the engine still answers such an index as Annoy does: with distances that mean nothing', async (t) => {
  const bytes = build('euclidean').slice();
  setComponent(bytes, 'euclidean', 123, 2, NaN);
  t.ok(open(bytes).getNnsByItem(123, 3, -1, true).distances!.some((d) => Number.isNaN(d)), 'a NaN distance');
});

t.test('a finite vector whose squared length overflows float32 is found', async (t) => {
  const bytes = build('euclidean').slice();
  for (let d = 0; d < F; d++) setComponent(bytes, 'euclidean', 40, d, 2e19);
  t.match(open(bytes).findUnusableItem(), { item: 40, problem: /item 40's vector is too long: its squared length 1\.60e\+39/ });
  // Just inside the range: fine.
  const fine = build('euclidean').slice();
  for (let d = 0; d < F; d++) setComponent(fine, 'euclidean', 40, d, 9e18);
  t.equal(open(fine).findUnusableItem(), null);
});

t.test('holes are not items: whatever their slot holds is ignored', async (t) => {
  const bytes = build('euclidean', 77).slice();
  setComponent(bytes, 'euclidean', 77, 0, NaN);
  const index = open(bytes);
  t.equal(index.getNHoles(), 1);
  t.equal(index.findUnusableItem(), null);
});
