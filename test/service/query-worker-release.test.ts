/**
 * A replaced version's memory is freed only once every thread that received it has collected its
 * wrappers. A worker that opened a version for a task planned before a swap (and so did not cache
 * it) must collect on its own once idle: nothing else prompts an idle thread to.
 */
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { AnnoyBuilder } from '../../src/annoy/index.js';
import { allocateStorage, type IndexStorage } from '../../src/annoy/storage.js';
import { collectGarbage, enableExplicitGc } from '../../src/service/gc.js';
import { Deadline } from '../../src/service/pool/deadline.js';
import { QueryPool } from '../../src/service/pool/query-pool.js';

const DIMENSIONS = 16_384;
const ITEMS = 2_000; // one root bucket: quick to build, 131 MB of vectors
const MiB = 2 ** 20;

/** An index of `items` items in shared memory, every page touched (it counts in RSS until it is freed). */
function storageWith(items: number): IndexStorage {
  const builder = new AnnoyBuilder('euclidean', DIMENSIONS, { seed: 1 });
  const v = new Float32Array(DIMENSIONS);
  for (let i = 0; i < items; i++) {
    v.fill((i % 17) / 17);
    builder.addItem(i, v);
  }
  builder.build(1);
  const ann = builder.save();
  const storage = allocateStorage(ann.byteLength, { shared: true });
  new Uint8Array(storage.buffer, storage.byteOffset, storage.byteLength).set(ann);
  return storage;
}

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
      { name: 'a', version, slot: 0, storage, metric: 'euclidean', dimensions: DIMENSIONS, queries: [5], n: 3, searchK: -1, includeDistances: false, deadlineAt: Date.now() + 30_000 },
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
