import type { MetricName } from '../../src/annoy/index.js';
import type { IndexStorage } from '../../src/annoy/storage.js';
import { Deadline } from '../../src/service/pool/deadline.js';
import { QueryPool } from '../../src/service/pool/query-pool.js';
import { processCpu } from './cpu.js';

export interface PoolRun {
  callers: number;
  qps: number;
  /** CPU of the whole process (the calling thread and the pool's workers) per query, µs. */
  cpuUsPerQuery: number;
}

/**
 * The service's query pool (Piscina, the task coalescer, the workers) without HTTP: `callers`
 * closed-loop callers submit one vector query each at a time for `seconds`. Between the engine on
 * bare threads and the service over HTTP, it shows what the pool itself costs.
 */
export async function poolQps(options: {
  storage: IndexStorage; metric: MetricName; dimensions: number; queries: Float32Array;
  n: number; searchK: number; seconds: number; workers: number; callers: number;
}): Promise<PoolRun> {
  const { storage, metric, dimensions: f, queries, n, searchK, seconds, workers, callers } = options;
  const versions = new Int32Array(new SharedArrayBuffer(4));
  Atomics.store(versions, 0, 1);
  const pool = new QueryPool({ workers, queueSize: callers * 2, versions });
  const count = queries.length / f;
  let next = 0;
  let done = 0;
  const loop = async (until: number) => {
    while (performance.now() < until) {
      const i = next++ % count;
      const deadline = new Deadline(60_000);
      const task = { name: 'bench', version: 1, generation: 1, slot: 0, storage, metric, dimensions: f, queries: [queries.slice(i * f, (i + 1) * f)], n, searchK, includeDistances: true, deadlineAt: Date.now() + 60_000 };
      await pool.run(task, deadline);
      deadline.clear();
      done++;
    }
  };
  try {
    const callersRun = (ms: number) => Promise.all(Array.from({ length: callers }, () => loop(performance.now() + ms)));
    await callersRun(1000); // warm-up: workers open the index and tier up
    done = 0;
    const before = processCpu(process.pid).total;
    const start = performance.now();
    await callersRun(seconds * 1000);
    const elapsed = (performance.now() - start) / 1000;
    const cpu = processCpu(process.pid).total - before;
    return { callers, qps: done / elapsed, cpuUsPerQuery: (cpu * 1e6) / done };
  } finally {
    await pool.close();
  }
}
