// One thread of bench/lib/engine-threads.ts: warms up, waits for the common start, then runs the
// queries in a loop for the given time and posts its q/s.
import { parentPort, workerData } from 'node:worker_threads';
import { AnnoyIndex } from '../src/annoy/index.js';
import { reviveStorage } from '../src/annoy/storage.js';
import { searchAll, warmUp } from './lib/engine-run.js';
import type { EngineThreadTask } from './lib/engine-threads.js';

const task = workerData as EngineThreadTask;
const index = AnnoyIndex.open(reviveStorage(task.storage), task.metric, task.dimensions, { validate: false });
warmUp(index, task.queries, task.searchK);
while (Date.now() < task.startAt) {
  // Spin rather than sleep: the timed loops must start together.
}
const perPass = task.queries.length / task.dimensions;
let queries = 0;
const start = performance.now();
while (performance.now() - start < task.seconds * 1000) {
  searchAll(index, task.queries, task.n, task.searchK);
  queries += perPass;
}
parentPort!.postMessage(queries / ((performance.now() - start) / 1000));
