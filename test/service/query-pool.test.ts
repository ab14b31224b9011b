/**
 * The query pool with a real worker thread: tasks go out without the index storage, and a worker
 * that has not opened a task's version asks for it. Answers must come from the version each task
 * names, whatever the worker has cached.
 */
import t from 'tap';
import { AnnoyIndex } from '../../src/annoy/index.js';
import type { IndexStorage } from '../../src/annoy/storage.js';
import { Deadline } from '../../src/service/pool/deadline.js';
import { QueryPool } from '../../src/service/pool/query-pool.js';
import type { QueryTask } from '../../src/service/pool/task.js';
import { buildIndex, sharedStorage } from './helpers.js';

// Two versions of one index: same shape, different vectors, so their answers differ.
const v1 = sharedStorage(buildIndex('a', { seed: 1 }).ann);
const v2 = sharedStorage(buildIndex('a', { seed: 2 }).ann);
function expected(storage: IndexStorage, item: number) {
  const r = AnnoyIndex.open(storage, 'euclidean', 8).getNnsByItem(item, 10, -1, true);
  return { ids: r.ids, distances: r.distances };
}

const versions = new Int32Array(new SharedArrayBuffer(4 * 4));
const pool = new QueryPool({ workers: 1, queueSize: 8, versions });
t.teardown(() => pool.close());

/** One name, so a version's generation (what the version table holds) is its number. */
function task(version: number, storage: IndexStorage, item: number): QueryTask {
  return { name: 'a', version, generation: version, slot: 0, storage, metric: 'euclidean', dimensions: 8, queries: [item], n: 10, searchK: -1, includeDistances: true, deadlineAt: Date.now() + 10_000 };
}

async function answer(version: number, storage: IndexStorage, item: number) {
  const deadline = new Deadline(10_000);
  const [a] = await pool.run(task(version, storage, item), deadline);
  deadline.clear();
  return { ids: a.ids, distances: a.distances };
}

t.test('each task is answered from the version it names, cached or not', async (t) => {
  t.not(JSON.stringify(expected(v1, 3).ids), JSON.stringify(expected(v2, 3).ids), 'the two versions answer differently');
  Atomics.store(versions, 0, 1);
  t.same(await answer(1, v1, 3), expected(v1, 3), 'first task: the worker opens version 1');
  t.same(await answer(1, v1, 7), expected(v1, 7), 'again: from its cache');

  Atomics.store(versions, 0, 2);
  t.same(await answer(2, v2, 3), expected(v2, 3), 'after a swap: version 2');
  t.same(await answer(1, v1, 3), expected(v1, 3), 'a task planned on version 1 still gets version 1');
  t.same(await answer(2, v2, 7), expected(v2, 7), 'and version 2 again');
});
