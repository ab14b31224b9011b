import { parentPort, workerData } from 'node:worker_threads';
import { buildForestPart, forestPlan } from '../src/annoy/index.js';
import type { BuildTask, BuildWorkerMessage } from '../src/build/build-index.js';

// One thread's share of a parallel build (src/build/build-index.ts): trees over the shared items.
const { prepared, nTrees, threads, threadIndex } = workerData as BuildTask;
const port = parentPort!;
const part = buildForestPart(prepared, forestPlan(nTrees, prepared.nItems, threads, threadIndex), threadIndex, () =>
  port.postMessage({ type: 'tree' } satisfies BuildWorkerMessage),
);
port.postMessage({ type: 'done', part } satisfies BuildWorkerMessage, [part.buffer]);
