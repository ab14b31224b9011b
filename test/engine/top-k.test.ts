import t from 'tap';
import { sortBest, TopK } from '../../src/annoy/top-k.js';
import { rng } from '../kernels/helpers.js';

t.test('TopK fed in chunks keeps the same best positions as one full sort, ties to the smaller id', async (t) => {
  const random = rng(11);
  const top = new TopK();
  for (let round = 0; round < 200; round++) {
    const m = 1 + Math.floor(random() * 300);
    // Few distinct distances and repeated ids make ties common.
    const d = Float64Array.from({ length: m }, () => Math.floor(random() * 20));
    const ids = Int32Array.from({ length: m }, () => Math.floor(random() * 1000));
    const p = Math.min(m, 1 + Math.floor(random() * 40));
    top.reset(p);
    for (let from = 0; from < m; ) {
      const to = Math.min(m, from + 1 + Math.floor(random() * 17));
      top.offer(d, ids, from, to);
      from = to;
    }
    const want = Array.from(sortBest(d, ids, m, p), (k) => [d[k], ids[k]]);
    const got = Array.from(top.positions(), (k) => [d[k], ids[k]]);
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      t.fail(`round ${round}: ${JSON.stringify(got)} != ${JSON.stringify(want)}`);
      return;
    }
  }
  t.pass('200 random rounds agree');
});

t.test('TopK reports its bound only once full', async (t) => {
  const top = new TopK();
  const d = Float64Array.of(5, 3, 9, 1);
  const ids = Int32Array.of(0, 1, 2, 3);
  top.reset(2);
  t.equal(top.bound(d), Infinity);
  top.offer(d, ids, 0, 1);
  t.equal(top.bound(d), Infinity, 'one of two');
  top.offer(d, ids, 1, 3);
  t.equal(top.bound(d), 5, 'the worse of {5, 3}');
  top.offer(d, ids, 3, 4);
  t.equal(top.bound(d), 3, 'tightened by 1');
  t.same(Array.from(top.positions()), [3, 1]);
  t.throws(() => top.reset(TopK.MAX_INSERTION + 1), RangeError);
});
