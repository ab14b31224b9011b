import { createKernels } from './kernels/select-kernels.js';
import type { VectorKernels } from './kernels/kernels.js';
import { AnnoyInputError, IndexFormatError } from './errors.js';
import { describeIndex, metricByName } from './metrics/index.js';
import type { Metric, NodeLayout, QueryContext, StoreContext } from './metrics/metric.js';
import { itemVectorProblem, type UnusableItem } from './item-vectors.js';
import { isMetricName, type MetricName } from './metrics/names.js';
import { nodeArrays, type NodeArrays } from './node-arrays.js';
import { searchNns, type QueryResult } from './search.js';
import type { IndexStorage } from './storage.js';
import { findRoots, validateStructure, type IndexStructure } from './structure.js';

export type { QueryResult } from './search.js';

export interface OpenOptions {
  /** Skip the structural check: only for storage another thread has already validated. */
  validate?: boolean;
  /**
   * Item count the file must have (e.g. from a manifest). A file cut inside its item area can look
   * like a valid one-item forest; only an outside figure tells.
   */
  expectedItems?: number;
}

export interface IndexSummary {
  metric: MetricName;
  dimensions: number;
  nodeBytes: number;
  K: number;
  nodes: number;
  items: number;
  trees: number;
  holes: number;
  bytes: number;
  kernels: VectorKernels['kind'];
  valid: boolean;
  error?: string;
  /** A valid file whose item vectors make distances NaN or infinite (see findUnusableItem). */
  unusableItem?: string;
}

function checkGeometry(metricName: MetricName, dimensions: number): Metric {
  if (!isMetricName(metricName)) throw new AnnoyInputError(`unknown metric ${JSON.stringify(metricName)}`);
  if (!Number.isInteger(dimensions) || dimensions < 1) throw new AnnoyInputError(`dimensions must be a positive integer (got ${dimensions})`);
  return metricByName(metricName);
}

/**
 * A read-only Annoy 1.17 index over a node array in memory: Annoy's query API, names and
 * answers, on an ArrayBuffer or SharedArrayBuffer that worker threads can share.
 */
export class AnnoyIndex {
  readonly metric: MetricName;
  readonly dimensions: number;
  readonly nodeBytes: number;
  readonly byteLength: number;
  /** Most items one leaf holds: a search may score up to this many candidates beyond search_k. */
  readonly maxBucket: number;
  readonly kernels: VectorKernels;
  private readonly impl: Metric;
  private readonly layout: NodeLayout;
  private readonly nodes: NodeArrays;
  private readonly baseWord: number;
  private readonly structure: IndexStructure;
  private readonly store: StoreContext;
  private readonly ctx: QueryContext;
  /**
   * A by-item query's copy of the item vector, reused: queries are synchronous, and a fresh typed
   * array per query is a malloc'd backing store plus the sweeper's work to free it.
   */
  private readonly itemQuery: Float32Array | Uint32Array;

  private constructor(storage: IndexStorage, metric: Metric, dimensions: number, validate: boolean, expectedItems?: number) {
    this.impl = metric;
    this.metric = metric.name;
    this.dimensions = dimensions;
    this.layout = metric.layout(dimensions);
    this.nodeBytes = this.layout.nodeBytes;
    this.maxBucket = this.layout.maxBucket;
    this.byteLength = storage.byteLength;
    const describe = `${metric.name} f=${dimensions} (${this.nodeBytes}-byte nodes)`;
    if (storage.byteLength === 0) throw new IndexFormatError('the index file is empty');
    if (storage.byteLength % this.nodeBytes !== 0) {
      throw new IndexFormatError(
        `file size ${storage.byteLength} bytes is not a multiple of the ${this.nodeBytes}-byte node of ${describeIndex(metric.name, dimensions)}: wrong metric or dimensions, or a truncated file`,
      );
    }
    this.nodes = nodeArrays(storage);
    this.baseWord = storage.byteOffset / 4;
    this.structure = findRoots(this.nodes, this.baseWord, this.layout, storage.byteLength / this.nodeBytes);
    if (expectedItems !== undefined && this.structure.nItems !== expectedItems) {
      throw new IndexFormatError(`the file holds ${this.structure.nItems} items where ${expectedItems} were expected: truncated, or not the file described`);
    }
    if (validate) validateStructure(this.nodes, this.baseWord, this.layout, this.structure, describe, metric, dimensions);
    this.kernels = createKernels(storage, metric.name === 'hamming' ? 1 : dimensions);
    this.store = { nodes: this.nodes, baseWord: this.baseWord, layout: this.layout, dimensions, kernels: this.kernels };
    this.ctx = { ...this.store, query: new Float32Array(0), session: undefined, queryNorm: 0 };
    this.itemQuery = metric.name === 'hamming' ? new Uint32Array(this.layout.vectorWords) : new Float32Array(this.layout.vectorWords);
  }

  /** Opens and (unless told otherwise) validates; throws IndexFormatError naming what does not fit. */
  static open(storage: IndexStorage, metric: MetricName, dimensions: number, options: OpenOptions = {}): AnnoyIndex {
    return new AnnoyIndex(storage, checkGeometry(metric, dimensions), dimensions, options.validate ?? true, options.expectedItems);
  }

  /** A summary of the file for tools, valid or not. */
  static inspect(storage: IndexStorage, metric: MetricName, dimensions: number): IndexSummary {
    const impl = checkGeometry(metric, dimensions);
    const layout = impl.layout(dimensions);
    const summary: IndexSummary = {
      metric, dimensions, nodeBytes: layout.nodeBytes, K: layout.maxBucket,
      nodes: Math.floor(storage.byteLength / layout.nodeBytes), items: 0, trees: 0, holes: 0,
      bytes: storage.byteLength, kernels: 'js', valid: false,
    };
    try {
      const index = new AnnoyIndex(storage, impl, dimensions, true);
      const unusable = index.findUnusableItem();
      return {
        ...summary, items: index.getNItems(), trees: index.getNTrees(), holes: index.structure.holes, kernels: index.kernels.kind, valid: true,
        ...(unusable === null ? {} : { unusableItem: unusable.problem }),
      };
    } catch (error) {
      if (!(error instanceof IndexFormatError)) throw error;
      return { ...summary, error: error.message };
    }
  }

  getNItems(): number {
    return this.structure.nItems;
  }

  getNTrees(): number {
    return this.structure.roots.length;
  }

  /** Item slots in [0, n_items) never added. */
  getNHoles(): number {
    return this.structure.holes;
  }

  /**
   * The first item whose vector holds NaN or ±Infinity or whose squared length overflows float32,
   * described; null when there is none. Annoy serves such files (with NaN or infinite distances);
   * the engine does too, and leaves refusing them to its callers. Hamming bits are always usable.
   */
  findUnusableItem(): UnusableItem | null {
    if (this.metric === 'hamming') return null;
    return itemVectorProblem(this.nodes, this.baseWord, this.layout, this.structure.nItems, this.dimensions);
  }

  hasItem(item: number): boolean {
    return Number.isInteger(item) && item >= 0 && item < this.structure.nItems && this.nodes.i32[this.nodeWord(item)] === 1;
  }

  getNnsByItem(item: number, n: number, searchK = -1, includeDistances = false): QueryResult {
    this.checkItem(item);
    const v = this.nodeWord(item) + this.layout.vectorWord;
    const words = this.layout.vectorWords;
    const query = this.itemQuery;
    if (query instanceof Float32Array) query.set(this.nodes.f32.subarray(v, v + words));
    else query.set(this.nodes.u32.subarray(v, v + words));
    return this.search(query, n, searchK, includeDistances);
  }

  getNnsByVector(vector: ArrayLike<number>, n: number, searchK = -1, includeDistances = false): QueryResult {
    return this.search(this.impl.prepareQuery(vector, this.dimensions), n, searchK, includeDistances);
  }

  getItemVector(item: number): number[] {
    this.checkItem(item);
    return this.impl.readVector(this.nodes, this.nodeWord(item) + this.layout.vectorWord, this.dimensions);
  }

  getDistance(i: number, j: number): number {
    this.checkItem(i);
    this.checkItem(j);
    return this.impl.normalizedDistance(this.impl.itemDistance(this.store, i, j));
  }

  private search(query: Float32Array | Uint32Array, n: number, searchK: number, includeDistances: boolean): QueryResult {
    if (!Number.isInteger(n) || n < 0) throw new AnnoyInputError(`n must be a non-negative integer (got ${n})`);
    if (!Number.isInteger(searchK) || searchK < -1) throw new AnnoyInputError(`search_k must be -1 or a non-negative integer (got ${searchK})`);
    const session = query instanceof Float32Array ? this.kernels.open(query) : undefined;
    const ctx = this.ctx;
    ctx.query = query;
    ctx.session = session;
    ctx.queryNorm = this.impl.queryNorm(query);
    try {
      return searchNns(this.impl, ctx, this.structure, n, searchK, includeDistances);
    } finally {
      session?.release();
      ctx.session = undefined;
    }
  }

  private nodeWord(node: number): number {
    return this.baseWord + node * this.layout.nodeWords;
  }

  private checkItem(item: number): void {
    if (!Number.isInteger(item)) throw new AnnoyInputError(`item must be an integer (got ${item})`);
    const n = this.structure.nItems;
    if (item < 0 || item >= n) throw new AnnoyInputError(`item ${item} is not in the index (items are 0..${n - 1})`);
    if (this.nodes.i32[this.nodeWord(item)] !== 1) throw new AnnoyInputError(`item ${item} was never added to the index`);
  }
}
