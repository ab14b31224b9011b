import { Worker } from 'node:worker_threads';
import type { MetricName } from '../../src/annoy/index.js';
import type { IndexStorage } from '../../src/annoy/storage.js';

const THREAD_URL = new URL('../engine-thread.js', import.meta.url);

export interface EngineThreadTask {
  storage: IndexStorage;
  metric: MetricName;
  dimensions: number;
  queries: Float32Array;
  n: number;
  searchK: number;
  /** Date.now() at which every thread starts its timed loop, so the loops overlap. */
  startAt: number;
  seconds: number;
}

/**
 * The engine on `threads` worker threads at once over one shared copy of the index, no HTTP: what
 * this machine's cores give the query work alone. Returns each thread's q/s.
 */
export async function engineThreadsQps(task: Omit<EngineThreadTask, 'startAt'>, threads: number): Promise<number[]> {
  const startAt = Date.now() + 1500; // time for every thread to load and warm up
  const runs = Array.from({ length: threads }, () => new Promise<number>((resolve, reject) => {
    const worker = new Worker(THREAD_URL, { workerData: { ...task, startAt } satisfies EngineThreadTask });
    worker.once('message', (qps: number) => resolve(qps));
    worker.once('error', reject);
  }));
  return Promise.all(runs);
}
