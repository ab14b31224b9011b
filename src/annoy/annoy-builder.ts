import { createKernels } from './kernels/select-kernels.js';
import { AnnoyInputError } from './errors.js';
import { checkVector } from './metrics/float-vectors.js';
import { metricByName } from './metrics/index.js';
import type { BuildContext, Metric, NodeLayout } from './metrics/metric.js';
import { isMetricName, type MetricName } from './metrics/names.js';
import { nodeArrays, type NodeArrays } from './node-arrays.js';
import { Kiss32Random } from './random.js';
import { allocateStorage, growStorage, WASM_MAX_DATA_BYTES, type IndexStorage } from './storage.js';
import { assembleIndex, buildForest, type ForestPart, type ForestPlan } from './tree-builder.js';

export const DEFAULT_SEED = 1234567890;
const MAX_ID = 2 ** 31 - 1;

/** Items moved into shared storage, ready for any number of threads to build trees over. */
export interface PreparedBuild {
  metric: MetricName;
  dimensions: number;
  storage: IndexStorage;
  /** Ids present (holes excluded), ascending. */
  items: Int32Array;
  nItems: number;
  seed: number;
}

/** The forest plan for Annoy's n_trees, split over `threads` builders. */
export function forestPlan(nTrees: number, nItems: number, threads: number, threadIndex: number): ForestPlan {
  // Annoy's -1: add trees until the whole file holds 2·n_items nodes, i.e. n_items tree nodes.
  if (nTrees === -1) return { targetNodes: Math.ceil(nItems / threads) };
  return { trees: Math.floor(nTrees / threads) + (threadIndex < nTrees % threads ? 1 : 0) };
}

/** Builds one thread's share of the forest; thread k draws from seed + k, as Annoy's threads do. */
export function buildForestPart(prepared: PreparedBuild, plan: ForestPlan, threadIndex: number, onTree?: (done: number) => void): ForestPart {
  const metric = metricByName(prepared.metric);
  const ctx = buildContext(metric, prepared, prepared.seed + threadIndex);
  return buildForest(ctx, metric, prepared.items, prepared.nItems, plan, onTree);
}

function buildContext(metric: Metric, prepared: PreparedBuild, seed: number): BuildContext {
  const f = metric.name === 'hamming' ? 1 : prepared.dimensions;
  return {
    nodes: nodeArrays(prepared.storage),
    baseWord: prepared.storage.byteOffset / 4,
    layout: metric.layout(prepared.dimensions),
    dimensions: prepared.dimensions,
    kernels: createKernels(prepared.storage, f),
    random: new Kiss32Random(seed >>> 0),
  };
}

/**
 * Annoy's build side: add_item, build, save. The file is byte-compatible with Annoy 1.17; trees
 * are built the Annoy way but not bit-for-bit (seeded by our own KISS stream).
 */
export class AnnoyBuilder {
  readonly metric: MetricName;
  readonly dimensions: number;
  private readonly impl: Metric;
  private readonly layout: NodeLayout;
  private readonly seed: number;
  /** Item nodes live in shared storage from the start, so build threads can use them in place. */
  private storage: IndexStorage;
  private items: NodeArrays;
  private capacity = 0;
  private nItems = 0;
  private file: Uint8Array | undefined;

  /** `capacity`: expected largest id + 1, to allocate item storage once. */
  constructor(metric: MetricName, dimensions: number, options: { seed?: number; capacity?: number } = {}) {
    if (!isMetricName(metric)) throw new AnnoyInputError(`unknown metric ${JSON.stringify(metric)}`);
    if (!Number.isInteger(dimensions) || dimensions < 1) throw new AnnoyInputError(`dimensions must be a positive integer (got ${dimensions})`);
    this.metric = metric;
    this.dimensions = dimensions;
    this.impl = metricByName(metric);
    this.layout = this.impl.layout(dimensions);
    this.seed = options.seed ?? DEFAULT_SEED;
    this.storage = this.allocate(Math.max(1, options.capacity ?? 1024));
    this.items = nodeArrays(this.storage);
  }

  getNItems(): number {
    return this.nItems;
  }

  addItem(id: number, vector: ArrayLike<number>): void {
    if (this.file) throw new AnnoyInputError("can't add an item after the index was built");
    if (!Number.isInteger(id) || id < 0 || id > MAX_ID) throw new AnnoyInputError(`item id must be an integer in 0..${MAX_ID} (got ${id})`);
    checkVector(vector, this.dimensions);
    if (id >= this.capacity) {
      // Double for amortised growth, but not past one WebAssembly memory while the items still fit
      // in one: beyond it the build would lose its SIMD kernels for room it does not need.
      const fit = Math.floor(WASM_MAX_DATA_BYTES / this.layout.nodeBytes);
      const doubled = Math.max(id + 1, this.capacity * 2);
      this.storage = this.allocate(id < fit ? Math.min(doubled, fit) : doubled, this.storage);
      this.items = nodeArrays(this.storage);
    }
    const w = this.storage.byteOffset / 4 + id * this.layout.nodeWords;
    this.items.i32.fill(0, w, w + this.layout.nodeWords);
    this.items.i32[w] = 1;
    this.impl.writeItem(this.items, w, this.layout, vector, this.dimensions);
    this.nItems = Math.max(this.nItems, id + 1);
  }

  /** Moves the items into shared storage and applies the metric's preprocessing. */
  prepare(): PreparedBuild {
    if (this.file) throw new AnnoyInputError("can't build an index twice");
    if (this.nItems === 0) throw new AnnoyInputError('no items were added');
    const storage: IndexStorage = { ...this.storage, byteLength: this.nItems * this.layout.nodeBytes };
    const base = storage.byteOffset / 4;
    const present: number[] = [];
    for (let i = 0; i < this.nItems; i++) if (this.items.i32[base + i * this.layout.nodeWords] === 1) present.push(i);
    const prepared: PreparedBuild = { metric: this.metric, dimensions: this.dimensions, storage, items: Int32Array.from(present), nItems: this.nItems, seed: this.seed };
    this.impl.preprocess?.(buildContext(this.impl, prepared, this.seed), prepared.items);
    return prepared;
  }

  /** Builds on this thread; n_trees = -1 applies Annoy's rule (about 2·n_items nodes in all). */
  build(nTrees = -1, options: { onTree?: (done: number, total: number) => void } = {}): void {
    if (!Number.isInteger(nTrees) || (nTrees < 1 && nTrees !== -1)) throw new AnnoyInputError(`n_trees must be -1 or a positive integer (got ${nTrees})`);
    const prepared = this.prepare();
    const part = buildForestPart(prepared, forestPlan(nTrees, prepared.nItems, 1, 0), 0, (done) => options.onTree?.(done, nTrees));
    this.finish(prepared, [part]);
  }

  /** Assembles trees built elsewhere (e.g. on worker threads) into the file. */
  finish(prepared: PreparedBuild, parts: ForestPart[]): void {
    this.file = assembleIndex(prepared.storage, parts, prepared.nItems, this.layout);
  }

  /** The complete Annoy file. */
  save(): Uint8Array {
    if (!this.file) throw new AnnoyInputError("can't save before the index is built");
    return this.file;
  }

  /** Growable, so more items and finally the trees are appended in place rather than copied. */
  private allocate(capacity: number, previous?: IndexStorage): IndexStorage {
    const bytes = capacity * this.layout.nodeBytes;
    const storage = previous ? growStorage(previous, bytes) : allocateStorage(bytes, { growable: true });
    this.capacity = capacity;
    return storage;
  }
}

