import { constants } from 'node:buffer';
import { totalmem } from 'node:os';
import { Worker } from 'node:worker_threads';
import { AnnoyBuilder, buildForestPart, forestPlan, type ForestPart, type MetricName, type PreparedBuild } from '../annoy/index.js';
import { metricByName } from '../annoy/metrics/index.js';
import { formatBytes } from './format-bytes.js';

const MAX_LENGTH = constants.MAX_LENGTH;

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
  const rows = vectors.length / dimensions;
  const size = itemsSize(metric, dimensions, rows, options.ids);
  size.check();
  // A thread beyond the n-th tree would get no tree to build (n_trees = -1 gives every thread work).
  const threads = Math.max(1, Math.min(Math.floor(options.threads ?? 1), nTrees === -1 ? Infinity : nTrees));
  // Workers start first: loading their modules and compiling the kernels (~0.2 s each) overlaps
  // adding the items on this thread.
  const workers = threads === 1 ? [] : Array.from({ length: threads }, () => new BuildWorker());
  try {
    let builder: AnnoyBuilder;
    try {
      builder = new AnnoyBuilder(metric, dimensions, { seed: options.seed, capacity: size.capacity });
      for (let r = 0; r < rows; r++) builder.addItem(options.ids ? options.ids[r] : r, vectors.subarray(r * dimensions, (r + 1) * dimensions));
    } catch (err) {
      // Below the limits checked above, the memory may still not be there ("Array buffer allocation failed").
      if (err instanceof RangeError) throw size.refuse(`: not enough memory for it (${err.message})`);
      throw err;
    }
    options.onItemsAdded?.();
    const prepared = builder.prepare();
    let trees = 0;
    const progress = (): void => options.onProgress?.(++trees);

    const parts: ForestPart[] =
      threads === 1
        ? [buildForestPart(prepared, forestPlan(nTrees, prepared.nItems, 1, 0), 0, progress)]
        : await Promise.all(workers.map((worker, threadIndex) => worker.run({ prepared, nTrees, threads, threadIndex }, progress)));
    try {
      builder.finish(prepared, parts);
    } catch (err) {
      // The trees are appended to the items' buffer: with them the file may pass the limits the items alone did not.
      if (err instanceof RangeError) throw size.refuse(`; with its trees it is more than can be allocated (${err.message})`);
      throw err;
    }
    return builder.save();
  } finally {
    for (const worker of workers) worker.stop();
  }
}

/** The index would not fit in memory; the message says how large it would be and why. */
export class BuildSizeError extends Error {
  override name = 'BuildSizeError';
}

/**
 * Annoy stores a node for every item id up to the largest (missing ids are holes), all in one
 * buffer that becomes the file: one id near 2^31 asks for tens of GiB.
 */
function itemsSize(metric: MetricName, dimensions: number, rows: number, ids: ArrayLike<number> | undefined) {
  let maxId = rows - 1;
  if (ids) for (let r = 0; r < rows; r++) if (Number.isInteger(ids[r])) maxId = Math.max(maxId, ids[r]);
  const capacity = maxId + 1;
  const nodeBytes = metricByName(metric).layout(dimensions).nodeBytes;
  const bytes = capacity * nodeBytes;
  const index = `an index of ${capacity} items × ${nodeBytes} bytes = ${formatBytes(bytes)}`;
  const what = capacity > rows ? `id ${maxId} would make ${index}` : `${rows} vectors make ${index}`;
  const hint = capacity > rows ? '; integer ids are item numbers, and every number below the largest gets a node: give sparse ids as strings' : '';
  const refuse = (problem: string): BuildSizeError => new BuildSizeError(`${what}${problem}${hint}`);
  return {
    capacity,
    refuse,
    check(): void {
      // The file is one Uint8Array (at most buffer.constants.MAX_LENGTH: 4 GiB in Node.js 20), and all of it is in memory.
      if (bytes > MAX_LENGTH) throw refuse(`, more than the ${formatBytes(MAX_LENGTH)} one buffer can hold in Node.js ${process.versions.node}`);
      if (bytes > totalmem()) throw refuse(`, more than this machine's memory (${formatBytes(totalmem())})`);
    },
  };
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
