import { Worker } from 'node:worker_threads';
import { AnnoyBuilder, buildForestPart, forestPlan, type ForestPart, type MetricName, type PreparedBuild } from '../annoy/index.js';

export interface BuildIndexOptions {
  metric: MetricName;
  dimensions: number;
  /** n × dimensions values, row i = item i (hamming: 0/1 values). */
  vectors: Float32Array;
  /** Item id of row i; default: i. Ids may leave holes. */
  ids?: ArrayLike<number>;
  /** Annoy's n_trees; -1 = Annoy's rule. */
  nTrees: number;
  seed?: number;
  /** Worker threads building trees; 1 builds on the calling thread. */
  threads?: number;
  /** Called after every finished tree (across threads). */
  onProgress?: (treesDone: number) => void;
}

/** Message a build worker receives. */
export interface BuildTask {
  prepared: PreparedBuild;
  nTrees: number;
  threads: number;
  threadIndex: number;
}

/** Messages a build worker sends: progress per tree, then its part. */
export type BuildWorkerMessage = { type: 'tree' } | { type: 'done'; part: ForestPart };

const WORKER_URL = new URL('../../workers/build-trees.js', import.meta.url);

/**
 * Builds an Annoy file. Trees are independent, so with threads > 1 each worker thread builds its
 * share over one shared copy of the item vectors (a shared WebAssembly memory) and the parts are
 * stitched together in order.
 */
export async function buildIndex(options: BuildIndexOptions): Promise<Uint8Array> {
  const { metric, dimensions, vectors, nTrees } = options;
  if (vectors.length % dimensions !== 0) throw new RangeError(`vectors length ${vectors.length} is not a multiple of dimensions ${dimensions}`);
  const rows = vectors.length / dimensions;
  let capacity = rows;
  if (options.ids) for (let r = 0; r < rows; r++) if (Number.isInteger(options.ids[r])) capacity = Math.max(capacity, options.ids[r] + 1);
  const builder = new AnnoyBuilder(metric, dimensions, { seed: options.seed, capacity });
  for (let r = 0; r < rows; r++) builder.addItem(options.ids ? options.ids[r] : r, vectors.subarray(r * dimensions, (r + 1) * dimensions));
  const threads = Math.max(1, Math.floor(options.threads ?? 1));
  const prepared = builder.prepare();
  let trees = 0;
  const progress = (): void => options.onProgress?.(++trees);

  const parts: ForestPart[] =
    threads === 1
      ? [buildForestPart(prepared, forestPlan(nTrees, prepared.nItems, 1, 0), 0, progress)]
      : await Promise.all(Array.from({ length: threads }, (_, threadIndex) => runWorker({ prepared, nTrees, threads, threadIndex }, progress)));
  builder.finish(prepared, parts);
  return builder.save();
}

function runWorker(task: BuildTask, onTree: () => void): Promise<ForestPart> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_URL, { workerData: task });
    worker.on('message', (message: BuildWorkerMessage) => {
      if (message.type === 'tree') onTree();
      else resolve(message.part);
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`build worker ${task.threadIndex} exited with code ${code}`));
    });
  });
}
