/**
 * A replaced version's memory is freed only once every thread that received it has collected its
 * wrappers, and an idle Piscina worker (blocked in Atomics.wait) does nothing on its own. So a
 * worker that opened a version for a task planned before a swap collects right after that task,
 * and after a swap the pool's sweep reaches every worker, also one busy when the sweep starts.
 */
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { AnnoyBuilder } from '../../src/annoy/index.js';
import type { IndexStorage } from '../../src/annoy/storage.js';
import { collectGarbage, enableExplicitGc } from '../../src/service/gc.js';
import { Deadline } from '../../src/service/pool/deadline.js';
import { QueryPool } from '../../src/service/pool/query-pool.js';
import { sharedStorage } from './helpers.js';

const DIMENSIONS = 16_384;
const ITEMS = 2_000; // one root bucket: quick to build, 131 MB of vectors
const MiB = 2 ** 20;

/** A euclidean index in shared memory, every page touched (it counts in RSS until it is freed). */
function sharedIndex(dimensions: number, items: number, trees: number): IndexStorage {
  const builder = new AnnoyBuilder('euclidean', dimensions, { seed: 1 });
  const v = new Float32Array(dimensions);
  for (let i = 0; i < items; i++) {
    v.fill(Math.sin(i));
    builder.addItem(i, v);
  }
  builder.build(trees);
  return sharedStorage(builder.save());
}

const storageWith = (items: number) => sharedIndex(DIMENSIONS, items, 1);
const rssMiB = () => process.memoryUsage().rss / MiB;

t.test('a worker frees a version it opened for a stale task once idle', async (t) => {
  enableExplicitGc(); // before the pool starts, so the worker has gc() too (as the service does)
  const versions = new Int32Array(new SharedArrayBuffer(16));
  const pool = new QueryPool({ workers: 1, queueSize: 4, versions });
  t.teardown(() => pool.close());
  // Version 3 is current; the tasks below were planned on older versions (before a swap), so the
  // worker opens each for that task alone and does not cache it.
  Atomics.store(versions, 0, 3);
  const ask = async (version: number, storage: IndexStorage) => {
    const deadline = new Deadline(30_000);
    const [answer] = await pool.run(
      { name: 'a', version, generation: version, slot: 0, storage, metric: 'euclidean', dimensions: DIMENSIONS, queries: [5], n: 3, searchK: -1, includeDistances: false, deadlineAt: Date.now() + 30_000 },
      deadline,
    );
    deadline.clear();
    return answer.ids;
  };
  const settle = async (until: () => boolean) => {
    for (let i = 0; i < 20 && !until(); i++) {
      collectGarbage();
      await sleep(250);
    }
  };

  // The same path once with a small version, so the worker's code and heap are warm for the baseline.
  t.equal((await ask(1, storageWith(20))).length, 3, 'a small stale version answered');
  let baseline = rssMiB();
  await settle(() => {
    const now = rssMiB();
    const steady = Math.abs(now - baseline) < 2;
    baseline = now;
    return steady;
  });

  let stale: IndexStorage | null = storageWith(ITEMS);
  const bytes = stale.byteLength / MiB;
  t.equal((await ask(2, stale)).length, 3, 'the stale task was answered from version 2');
  stale = null;
  // The builder's copy is collected on this thread; the index memory only once the worker has collected too.
  await settle(() => rssMiB() - baseline < bytes * 0.3);
  const after = rssMiB();
  t.ok(after - baseline < bytes * 0.3, `the ${bytes.toFixed(0)} MiB of version 2 were freed (RSS ${baseline.toFixed(0)} MiB before it, ${after.toFixed(0)} MiB after)`);
});

t.test('after a swap every worker sweeps, also one that is busy when the sweep starts', async (t) => {
  const versions = new Int32Array(new SharedArrayBuffer(16));
  const pool = new QueryPool({ workers: 2, queueSize: 8, versions });
  t.teardown(() => pool.close());
  Atomics.store(versions, 1, 1);
  const busyIndex = sharedIndex(256, 1000, 5);
  const work = (queries: number) => {
    const deadline = new Deadline(60_000);
    const items = Array.from({ length: queries }, (_, i) => i % 1000);
    return pool
      .run({ name: 'busy', version: 1, generation: 1, slot: 1, storage: busyIndex, metric: 'euclidean', dimensions: 256, queries: items, n: 10, searchK: 1000, includeDistances: false, deadlineAt: Date.now() + 60_000 }, deadline)
      .finally(() => deadline.clear());
  };
  await work(10); // both threads up and the code warm
  // Piscina gives a task to the least busy worker: a long one to the first worker, a short one to
  // the second, and a second long one to the first again, which is then full (two tasks each).
  const long1 = work(20_000);
  const short = work(200);
  const long2 = work(20_000);
  await short;
  const swept = await pool.sweep();
  t.same([...swept].sort(), pool.threadIds.sort(), 'both threads swept, the full one once it was free');
  await Promise.all([long1, long2]);
});
