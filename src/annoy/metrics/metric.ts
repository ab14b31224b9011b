import type { KernelSession, VectorKernels } from '../kernels/kernels.js';
import type { NodeArrays } from '../node-arrays.js';
import type { Random } from '../random.js';
import type { MetricName } from './names.js';

/** Node geometry for one metric and dimension count; all offsets in 32-bit words. */
export interface NodeLayout {
  readonly nodeBytes: number;
  readonly nodeWords: number;
  /** Word offset of children[0] (bucket ids continue from here to the end of the node). */
  readonly childrenWord: number;
  /** Word offset of the vector. */
  readonly vectorWord: number;
  /** Words the vector occupies (f floats, or 2 per uint64 for hamming). */
  readonly vectorWords: number;
  /** How many item ids fit in a bucket node (Annoy's K). */
  readonly maxBucket: number;
}

/** Annoy's margin of one item against a split, recomputed in double, and how far float32 could move it. */
export interface Margin {
  readonly value: number;
  readonly slack: number;
}

/** A float metric's split-node hyperplane as create_split writes it, for the check at open. */
export interface HyperplaneReader {
  /**
   * Length of the normal over the components create_split normalises (dot: with dot_factor); 0
   * when the random-split fallback zeroed the normal (dot keeps its dot_factor then).
   */
  norm(nodes: NodeArrays, nodeWord: number, dimensions: number): number;
  /** side()'s margin of the item node at `itemNodeWord`: positive puts it below children[1]. */
  margin(nodes: NodeArrays, nodeWord: number, itemNodeWord: number, dimensions: number): Margin;
  /** Which file of the same node size a wrong hyperplane of this length suggests, for the error. */
  guess(norm: number, dimensions: number): string;
}

/** Everything one query needs; one object per index, refilled for each (synchronous) query. */
export interface QueryContext {
  readonly nodes: NodeArrays;
  /** Word index of node 0. */
  readonly baseWord: number;
  readonly layout: NodeLayout;
  readonly dimensions: number;
  /** The query as the index stores vectors: float32, or packed bits for hamming. */
  query: Float32Array | Uint32Array;
  /** Kernel session for float metrics (absent for hamming). */
  session: KernelSession | undefined;
  readonly kernels: VectorKernels;
  /** Metric-specific cached value (angular: |q|²). */
  queryNorm: number;
}

/** The scratch split node a tree builder fills in and then copies into the tree. */
export interface SplitPlane {
  /** Float32 (or packed Uint32 for hamming) vector of the split node. */
  readonly vector: Float32Array | Uint32Array;
  /** Minkowski plane offset `a`, or the dot metric's `dot_factor`. */
  extra: number;
}

/** Read access to the stored vectors of an index or a build. */
export interface StoreContext {
  readonly nodes: NodeArrays;
  /** Word index of node 0. */
  readonly baseWord: number;
  readonly layout: NodeLayout;
  readonly dimensions: number;
  readonly kernels: VectorKernels;
}

/** A store plus the random source tree building draws from. */
export interface BuildContext extends StoreContext {
  readonly random: Random;
}

/**
 * One Annoy metric: its node layout, query-time arithmetic and build-time splitting, mirroring
 * annoylib.h's metric structs so each metric lives in one module and the loops stay generic.
 */
export interface Metric {
  readonly name: MetricName;
  layout(dimensions: number): NodeLayout;

  // ---- query
  /** Priority given to every root when a search starts. */
  readonly pqInitial: number;
  /** Validates and converts a user vector into the stored representation. */
  prepareQuery(vector: ArrayLike<number>, dimensions: number): Float32Array | Uint32Array;
  /** |q|² or similar, computed once per query. */
  queryNorm(query: Float32Array | Uint32Array): number;
  /** Which side of split node `nodeWord` (absolute word index) the query falls on, as a signed margin. */
  margin(ctx: QueryContext, nodeWord: number): number;
  /** Priority of child `child` given the parent's priority and the margin. */
  pqDistance(priority: number, margin: number, child: 0 | 1): number;
  /**
   * Internal distances from the query to each item in `ids[from..to)`, into `out[from..to)`.
   * A distance above `bound` may be reported as +Infinity instead (see `prunable`).
   */
  distances(ctx: QueryContext, ids: Int32Array, from: number, to: number, out: Float64Array, bound: number): void;
  /**
   * True when distances are sums of non-negative terms, so scoring can stop once a partial sum
   * passes the current n-th best: the search then scores candidates in chunks and tightens the bound.
   */
  readonly prunable: boolean;
  /** What users see: Annoy's normalized_distance. */
  normalizedDistance(distance: number): number;
  /** Internal distance between two stored items. */
  itemDistance(ctx: StoreContext, i: number, j: number): number;
  /**
   * Why the item node at absolute word `nodeWord` cannot be one of this metric's, or null: for an
   * item field every writer fills by rule (dot: dot_factor), so that a file of another metric
   * whose nodes have the same size and tree fields is told apart at open.
   */
  itemProblem?(nodes: NodeArrays, nodeWord: number, dimensions: number): string | null;
  /** The same for a split node's fields (hamming: the bit it splits on). */
  splitProblem?(nodes: NodeArrays, nodeWord: number, dimensions: number): string | null;
  /** Float metrics: reads split-node hyperplanes, so that one create_split never writes is told apart at open. */
  readonly hyperplane?: HyperplaneReader;
  /** Decodes a stored item vector to user values (hamming: 0/1 bits). */
  readVector(nodes: NodeArrays, vectorWord: number, dimensions: number): number[];

  // ---- build
  /** Writes item `vector` (already validated) into the node at absolute word `nodeWord`. */
  writeItem(nodes: NodeArrays, nodeWord: number, layout: NodeLayout, vector: ArrayLike<number>, dimensions: number): void;
  /** Whole-index preprocessing before trees are built (dot: dot_factor); `items` are the present ids. */
  preprocess?(ctx: BuildContext, items: Int32Array): void;
  newSplitPlane(layout: NodeLayout): SplitPlane;
  /** Annoy's create_split: fills `plane` from the items `ids[0..count)`. */
  createSplit(ctx: BuildContext, ids: Int32Array, count: number, plane: SplitPlane): void;
  /**
   * Annoy's side() for each item: writes 1 (right) or 0 (left) into `sides`; exact zero margins
   * take a coin flip from ctx.random, as Annoy does.
   */
  assignSides(ctx: BuildContext, plane: SplitPlane, ids: Int32Array, count: number, sides: Uint8Array): void;
  /** Zeroes the plane for Annoy's last-resort random split. */
  clearPlane(plane: SplitPlane): void;
  /** Writes the split node fields (everything but n_descendants and children). */
  writeSplit(nodes: NodeArrays, nodeWord: number, layout: NodeLayout, plane: SplitPlane): void;
}
