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
  /** Called once every item is added, before the trees are built (what Annoy's build() times). */
  onItemsAdded?: () => void;
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
  // A thread beyond the n-th tree would get no tree to build (n_trees = -1 gives every thread work).
  const threads = Math.max(1, Math.min(Math.floor(options.threads ?? 1), nTrees === -1 ? Infinity : nTrees));
  // Workers start first: loading their modules and compiling the kernels (~0.2 s each) overlaps
  // adding the items on this thread.
  const workers = threads === 1 ? [] : Array.from({ length: threads }, () => new BuildWorker());
  try {
    const rows = vectors.length / dimensions;
    let capacity = rows;
    if (options.ids) for (let r = 0; r < rows; r++) if (Number.isInteger(options.ids[r])) capacity = Math.max(capacity, options.ids[r] + 1);
    const builder = new AnnoyBuilder(metric, dimensions, { seed: options.seed, capacity });
    for (let r = 0; r < rows; r++) builder.addItem(options.ids ? options.ids[r] : r, vectors.subarray(r * dimensions, (r + 1) * dimensions));
    options.onItemsAdded?.();
    const prepared = builder.prepare();
    let trees = 0;
    const progress = (): void => options.onProgress?.(++trees);

    const parts: ForestPart[] =
      threads === 1
        ? [buildForestPart(prepared, forestPlan(nTrees, prepared.nItems, 1, 0), 0, progress)]
        : await Promise.all(workers.map((worker, threadIndex) => worker.run({ prepared, nTrees, threads, threadIndex }, progress)));
    builder.finish(prepared, parts);
    return builder.save();
  } finally {
    for (const worker of workers) worker.stop();
  }
}

/** A thread that builds one share of the trees once it is sent its task (see workers/build-trees.ts). */
class BuildWorker {
  private readonly worker = new Worker(WORKER_URL);
  private readonly exited: Promise<never>;
  private done = false;

  constructor() {
    this.exited = new Promise<never>((_, reject) => {
      this.worker.once('error', reject);
      this.worker.once('exit', (code) => reject(new Error(`build worker exited with code ${code}`)));
    });
    // Nobody may be waiting yet (the items are still being added): keep an early failure from being unhandled.
    this.exited.catch(() => undefined);
  }

  run(task: BuildTask, onTree: () => void): Promise<ForestPart> {
    const part = new Promise<ForestPart>((resolve) => {
      this.worker.on('message', (message: BuildWorkerMessage) => {
        if (message.type === 'tree') onTree();
        else {
          this.done = true;
          resolve(message.part);
        }
      });
    });
    this.worker.postMessage(task);
    return Promise.race([part, this.exited]);
  }

  stop(): void {
    if (!this.done) void this.worker.terminate();
    else this.worker.unref();
  }
}
