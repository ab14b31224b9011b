/**
 * Query worker (Piscina). Keeps one opened AnnoyIndex per index name, for the version the shared
 * version table says is current; tasks planned on an older version are answered from that version's
 * storage without replacing the cache. A task arrives without the storage: when this thread has not
 * opened the task's version it answers 'storage' and the task comes back with it. Cached versions
 * that are no longer current are dropped at the next task or sweep task (the pool makes sure every
 * thread gets one after a swap), so retired buffers are not pinned by idle caches.
 */
import { threadId, workerData } from 'node:worker_threads';
import { AnnoyIndex, AnnoyInputError } from '../src/annoy/index.js';
import { reviveStorage } from '../src/annoy/storage.js';
import { collectGarbage } from '../src/service/gc.js';
import { answerQueries } from '../src/service/pool/answer.js';
import type { IndexStorage } from '../src/annoy/storage.js';
import type { QueryMessage, QueryReply, SweepReply, SweepTask, WorkerData } from '../src/service/pool/task.js';

interface Cached {
  generation: number;
  slot: number;
  index: AnnoyIndex;
}

const { versions } = workerData as WorkerData;
const cache = new Map<string, Cached>();

function open(task: QueryMessage, storage: IndexStorage): AnnoyIndex {
  return AnnoyIndex.open(reviveStorage(storage), task.metric, task.dimensions, { validate: false });
}

/** Drops cached versions that are no longer current; true when something was dropped. */
function sweep(): boolean {
  let dropped = false;
  for (const [name, c] of cache) {
    if (Atomics.load(versions, c.slot) !== c.generation) {
      cache.delete(name);
      dropped = true;
    }
  }
  return dropped;
}

/** Drops stale versions and, when one went, collects so its memory is freed (see src/service/gc.ts). */
function sweepAndCollect(): void {
  if (sweep()) collectGarbage();
}

// No timer sweeps here: under Piscina's default `atomics: 'sync'` an idle worker blocks in
// Atomics.wait and runs no timers. After a swap the pool sends sweep tasks until every thread has
// answered one (QueryPool.sweep); a busy worker sweeps at its next task.

/** The task's version, opened; null when it is not cached here and the task came without storage. */
function indexFor(task: QueryMessage): AnnoyIndex | null {
  sweepAndCollect();
  const cached = cache.get(task.name);
  if (cached && cached.generation === task.generation) return cached.index;
  if (!task.storage) return null;
  const index = open(task, task.storage);
  if (Atomics.load(versions, task.slot) === task.generation) cache.set(task.name, { generation: task.generation, slot: task.slot, index });
  return index;
}

export default function run(task: QueryMessage | SweepTask): QueryReply | SweepReply {
  if ('sweep' in task) {
    // Collect even when this thread cached nothing: task messages alone leave wrappers of the
    // retired memory behind (see src/service/gc.ts).
    sweep();
    collectGarbage();
    return { sweptBy: threadId };
  }
  try {
    // The caller already answered 504: don't spend a worker on a result nobody will read.
    if (Date.now() > task.deadlineAt) return { error: { code: 'deadline', message: 'deadline passed before the query started' } };
    const index = indexFor(task);
    if (!index) return { error: { code: 'storage', message: `${task.name} version ${task.version} is not open on this thread` } };
    const answers = answerQueries(index, task.queries, task.n, task.searchK, task.includeDistances);
    return { answers };
  } catch (err) {
    if (err instanceof AnnoyInputError) return { error: { code: 'input', message: err.message } };
    return { error: { code: 'internal', message: err instanceof Error ? err.message : String(err) } };
  } finally {
    releaseTaskStorage(task);
  }
}

/**
 * Under Piscina's default `atomics: 'sync'` an idle worker blocks in Atomics.wait inside the call
 * that ran its last task, so that task stays reachable, and this thread runs no timers and no
 * collection, until the next message arrives. The task must therefore not keep the storage
 * alive: the cache is what holds an open version. A task that brought a version the cache does
 * not hold (planned before a swap, run after it) is collected right after it returns (the
 * microtask runs before Piscina posts the answer and waits): otherwise an idle worker would pin a
 * replaced index for as long as it stays idle.
 */
function releaseTaskStorage(task: QueryMessage): void {
  if (!task.storage) return;
  task.storage = undefined;
  if (cache.get(task.name)?.generation !== task.generation) queueMicrotask(collectGarbage);
}
