import { parentPort } from 'node:worker_threads';
import { buildForestPart, forestPlan } from '../src/annoy/index.js';
import { reviveStorage } from '../src/annoy/storage.js';
import type { BuildTask, BuildWorkerMessage } from '../src/build/build-index.js';

// One thread's share of a parallel build (src/build/build-index.ts): trees over the shared items.
// The thread starts before the items are added and waits for its task.
const port = parentPort!;
port.once('message', (task: BuildTask) => {
  const { nTrees, threads, threadIndex } = task;
  const prepared = { ...task.prepared, storage: reviveStorage(task.prepared.storage) };
  const part = buildForestPart(prepared, forestPlan(nTrees, prepared.nItems, threads, threadIndex), threadIndex, () =>
    port.postMessage({ type: 'tree' } satisfies BuildWorkerMessage),
  );
  port.postMessage({ type: 'done', part } satisfies BuildWorkerMessage, [part.buffer]);
  port.close();
});
