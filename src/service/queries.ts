import { AnnoyInputError, isSearchK, queryVectorProblem, SEARCH_K_RULE } from '../annoy/index.js';
import type { ServiceConfig } from './config.js';
import { prepareFloatQuery } from '../annoy/metrics/float-vectors.js';
import { answerQueries } from './pool/answer.js';
import { Deadline } from './pool/deadline.js';
import { errors } from './errors.js';
import type { QueryKind, ServiceMetrics } from './metrics.js';
import type { QueryPool } from './pool/query-pool.js';
import type { QueryAnswer, QuerySpec, QueryTask } from './pool/task.js';
import type { IndexEntry, IndexRegistry } from './registry/registry.js';

/** An external id: a string when the index has an ids file, an item number otherwise. */
export type ExternalId = string | number;

/**
 * The request a query serves: the observability hook calls `onClientClosed` when its client closes
 * the connection before the answer (the 499 it records), with the close listener it has anyway.
 */
export interface ClientLink {
  onClientClosed: (() => void) | null;
}

export interface QueryOptions {
  n: number;
  searchK: number;
  includeDistances: boolean;
  /** Queries still waiting for a worker when the client goes away are withdrawn. */
  client?: ClientLink;
}

export interface Neighbors {
  ids: ExternalId[];
  distances?: number[];
}

export interface SearchResult extends Neighbors {
  index: string;
  version: number;
}

export interface BatchResult {
  index: string;
  version: number;
  results: Neighbors[];
}

export type BatchQuery = { vector: number[] } | { item: ExternalId };

/** Applies `f` at once to answers already computed (inline queries), or when the pool delivers them. */
function whenAnswered<T>(answers: QueryAnswer[] | Promise<QueryAnswer[]>, f: (answers: QueryAnswer[]) => T): T | Promise<T> {
  return answers instanceof Promise ? answers.then(f) : f(answers);
}

/** Fewest queries worth a task of their own: below this the round trip costs more than it saves. */
const MIN_BATCH_CHUNK = 8;

/**
 * What the routes call: resolves names and external ids against the registry, checks inputs the
 * schemas cannot (vector length, finiteness, item existence), runs the engine on the pool under a
 * deadline, and records metrics from the workers' answers.
 */
export class QueryService {
  constructor(
    private readonly registry: IndexRegistry,
    private readonly pool: QueryPool,
    private readonly metrics: ServiceMetrics,
    private readonly config: ServiceConfig,
  ) {}

  index(name: string): IndexEntry {
    const entry = this.registry.get(name);
    if (!entry) throw errors.indexNotFound(name, this.registry.rejection(name));
    return entry;
  }

  /**
   * Query methods answer synchronously when the query runs inline (no promise, no microtask turn for
   * the route to wait on) and with a promise when it goes to the pool.
   */
  neighborsByItem(name: string, rawId: string, options: QueryOptions & { excludeSelf: boolean }): SearchResult | Promise<SearchResult> {
    const entry = this.index(name);
    const item = this.itemOf(entry, rawId);
    this.checkSearchK(options.searchK);
    return this.nearest(entry, 'item', item, options, options.excludeSelf ? new Set([item]) : null);
  }

  search(name: string, vector: readonly number[], options: QueryOptions & { exclude?: readonly ExternalId[] }): SearchResult | Promise<SearchResult> {
    const entry = this.index(name);
    const query = this.vectorOf(entry, vector, 'vector');
    this.checkSearchK(options.searchK);
    return this.nearest(entry, 'vector', query, options, this.excludedItems(entry, options.exclude));
  }

  /** get_nns_by_item with an exclusion list (the GET route only knows exclude_self). */
  searchByItem(name: string, id: ExternalId, options: QueryOptions & { exclude?: readonly ExternalId[] }): SearchResult | Promise<SearchResult> {
    const entry = this.index(name);
    const item = this.itemOf(entry, id);
    this.checkSearchK(options.searchK);
    return this.nearest(entry, 'item', item, options, this.excludedItems(entry, options.exclude));
  }

  /** One query's n nearest, leaving out `excluded`: asks for that many more, so n remain when the candidates allow. */
  private nearest(entry: IndexEntry, kind: QueryKind, spec: QuerySpec, options: QueryOptions, excluded: Set<number> | null): SearchResult | Promise<SearchResult> {
    return whenAnswered(this.execute(entry, kind, [spec], options.n + (excluded?.size ?? 0), options), (answers) => this.shape(entry, answers[0], options, excluded, true));
  }

  /** Items of the ids to leave out; ids the index does not hold exclude nothing. */
  private excludedItems(entry: IndexEntry, exclude: readonly ExternalId[] | undefined): Set<number> | null {
    if (!exclude || exclude.length === 0) return null;
    const excluded = new Set<number>();
    for (const id of exclude) {
      const item = this.lookup(entry, id);
      if (item >= 0) excluded.add(item);
    }
    return excluded;
  }

  batch(name: string, queries: readonly BatchQuery[], options: QueryOptions): BatchResult | Promise<BatchResult> {
    const entry = this.index(name);
    this.checkSearchK(options.searchK);
    if (queries.length > this.config.maxBatch) throw errors.badInput(`batch has ${queries.length} queries, at most ${this.config.maxBatch} allowed`);
    // Packed, like the answers: the specs cross to a worker.
    const specs: QuerySpec[] = [];
    for (let i = 0; i < queries.length; i++) {
      const q = queries[i];
      specs.push('vector' in q ? this.vectorOf(entry, q.vector, `queries[${i}].vector`) : this.itemOf(entry, q.item, `queries[${i}].item`));
    }
    return whenAnswered(this.execute(entry, 'batch', specs, options.n, options), (answers) => {
      const results: Neighbors[] = new Array(answers.length);
      for (let i = 0; i < answers.length; i++) results[i] = this.shape(entry, answers[i], options, null, false);
      return { index: entry.name, version: entry.version, results };
    });
  }

  /**
   * External ids of the items numbered `offset` to `offset + limit - 1`, holes left out, and where
   * the next page starts (null after the last): how someone with curl finds ids to query.
   */
  itemIds(name: string, offset: number, limit: number): { index: string; version: number; items: number; ids: ExternalId[]; next: number | null } {
    const entry = this.index(name);
    const view = this.registry.view(entry);
    const end = Math.min(entry.items, offset + limit);
    const ids: ExternalId[] = [];
    for (let item = offset; item < end; item++) if (view.hasItem(item)) ids.push(entry.ids ? entry.ids[item] : item);
    return { index: entry.name, version: entry.version, items: entry.items, ids, next: end < entry.items ? end : null };
  }

  itemVector(name: string, rawId: string): { index: string; version: number; id: ExternalId; vector: number[] } {
    const entry = this.index(name);
    const item = this.itemOf(entry, rawId);
    return { index: entry.name, version: entry.version, id: entry.ids ? entry.ids[item] : item, vector: this.registry.view(entry).getItemVector(item) };
  }

  distance(name: string, a: string, b: string): { index: string; version: number; distance: number } {
    const entry = this.index(name);
    const i = this.itemOf(entry, a);
    const j = this.itemOf(entry, b);
    return { index: entry.name, version: entry.version, distance: this.registry.view(entry).getDistance(i, j) };
  }

  /** Internal item of an external id, or -1. Ids arrive as strings from paths and as either type in JSON. */
  private lookup(entry: IndexEntry, id: ExternalId): number {
    let item: number;
    if (entry.idToItem) {
      item = entry.idToItem.get(typeof id === 'string' ? id : String(id)) ?? -1;
    } else if (typeof id === 'number') {
      item = Number.isInteger(id) ? id : -1;
    } else {
      item = /^(0|[1-9]\d{0,9})$/.test(id) ? Number(id) : -1;
    }
    if (item < 0 || item >= entry.items || !this.registry.view(entry).hasItem(item)) return -1;
    return item;
  }

  private itemOf(entry: IndexEntry, id: ExternalId, what?: string): number {
    const item = this.lookup(entry, id);
    if (item < 0) throw errors.itemNotFound(entry.name, id, what);
    return item;
  }

  private vectorOf(entry: IndexEntry, vector: readonly number[], what: string): Float32Array {
    if (vector.length !== entry.dimensions) throw errors.dimensionMismatch(what, entry.dimensions, vector.length);
    // JSON has no NaN/Infinity literals, but 1e400 parses to Infinity and 1e39 overflows float32.
    try {
      const query = prepareFloatQuery(vector, entry.dimensions, what);
      const problem = queryVectorProblem(entry.metric, query, what);
      if (problem) throw errors.badInput(problem);
      return query;
    } catch (err) {
      throw err instanceof AnnoyInputError ? errors.badInput(err.message) : err;
    }
  }

  private checkSearchK(searchK: number): void {
    if (!isSearchK(searchK)) throw errors.badInput(`search_k ${SEARCH_K_RULE}`);
  }

  /** Inline queries are answered before this returns; pooled ones through the promise. */
  private execute(entry: IndexEntry, kind: QueryKind, queries: QuerySpec[], n: number, options: QueryOptions): QueryAnswer[] | Promise<QueryAnswer[]> {
    const effectiveK = options.searchK === -1 ? n * entry.trees : options.searchK;
    // A search stops after the leaf that takes it to search_k candidates, so it scores up to one
    // leaf more: hundreds of items on a wide index (Fashion-MNIST: 786), whatever search_k says.
    const mostScored = effectiveK + this.registry.view(entry).maxBucket;
    if (mostScored * entry.dimensions * queries.length <= this.config.inlineMaxWork) {
      const answers = this.runInline(entry, queries, n, options);
      this.metrics.observeQueries(entry.name, kind, answers, effectiveK, true);
      return answers;
    }
    return this.runPooled(entry, kind, queries, n, options, effectiveK);
  }

  private async runPooled(entry: IndexEntry, kind: QueryKind, queries: QuerySpec[], n: number, options: QueryOptions, effectiveK: number): Promise<QueryAnswer[]> {
    const deadline = new Deadline(this.config.deadlineMs);
    const tasks: QueryTask[] = [];
    // The version stays retained while any thread may still read it, which can outlast this request
    // (a 504 answers the caller while the task runs on): each task holds it until its worker is done.
    const run = (part: QuerySpec[]): Promise<QueryAnswer[]> => {
      this.registry.acquire(entry);
      const task = this.task(entry, part, n, options);
      tasks.push(task);
      return this.pool.run(task, deadline, (answers) => {
        this.registry.release(entry);
        // Counted when the worker is done, not when the caller is answered: a query that finished
        // after its caller's 504, or beside a failed part of its batch, took its engine time all the same.
        if (answers) this.metrics.observeQueries(entry.name, kind, answers, effectiveK, false);
      });
    };
    const { client } = options;
    // Only what still waits in the queue: a task already at a worker is answered, if to nobody.
    if (client) {
      client.onClientClosed = () => {
        const err = errors.clientClosed();
        for (const task of tasks) this.pool.withdraw(task, 'client_closed', err);
      };
    }
    try {
      let answers: QueryAnswer[];
      const chunk = Math.max(MIN_BATCH_CHUNK, Math.ceil(queries.length / this.config.workers));
      if (queries.length <= chunk) {
        answers = await run(queries);
      } else {
        const parts: Promise<QueryAnswer[]>[] = [];
        for (let i = 0; i < queries.length; i += chunk) parts.push(run(queries.slice(i, i + chunk)));
        try {
          answers = (await Promise.all(parts)).flat();
        } catch (err) {
          // One part failed: the answer is that error, so the caller stops waiting for the others,
          // and those still in line are withdrawn (QueryPool.run).
          deadline.giveUp('batch_failed');
          await Promise.allSettled(parts);
          throw err;
        }
      }
      return answers;
    } finally {
      deadline.clear();
      if (client) client.onClientClosed = null;
    }
  }

  /**
   * Small queries run right here: a by-item lookup on a typical index costs less than the thread
   * round trip to a worker (~50 µs of main-thread time per task), and the work is bounded by
   * `inlineMaxWork`, so the event loop is never held for long.
   */
  private runInline(entry: IndexEntry, queries: QuerySpec[], n: number, options: QueryOptions): QueryAnswer[] {
    try {
      return answerQueries(this.registry.view(entry), queries, n, options.searchK, options.includeDistances);
    } catch (err) {
      if (err instanceof AnnoyInputError) throw errors.badInput(err.message);
      throw err;
    }
  }

  private task(entry: IndexEntry, queries: QuerySpec[], n: number, options: QueryOptions): QueryTask {
    return {
      deadlineAt: Date.now() + this.config.deadlineMs,
      name: entry.name,
      version: entry.version,
      generation: entry.generation,
      slot: entry.slot,
      storage: entry.storage,
      metric: entry.metric,
      dimensions: entry.dimensions,
      queries,
      n,
      searchK: options.searchK,
      includeDistances: options.includeDistances,
    };
  }

  /**
   * Drops `skip` and `excluded` items, keeps at most n, and maps items to external ids. With `entry`
   * the answer names the index and version (a single query), without it not (one result of a batch).
   * Each object has exactly the documented fields: these routes serialise with JSON.stringify.
   */
  private shape(entry: IndexEntry, answer: QueryAnswer, options: QueryOptions, excluded: Set<number> | null, named: true): SearchResult;
  private shape(entry: IndexEntry, answer: QueryAnswer, options: QueryOptions, excluded: Set<number> | null, named: false): Neighbors;
  private shape(entry: IndexEntry, answer: QueryAnswer, options: QueryOptions, excluded: Set<number> | null, named: boolean): SearchResult | Neighbors {
    const { n, includeDistances } = options;
    const ids: ExternalId[] = [];
    const distances: number[] | undefined = includeDistances ? [] : undefined;
    const names = entry.ids;
    for (let i = 0; i < answer.ids.length && ids.length < n; i++) {
      const item = answer.ids[i];
      if (excluded !== null && excluded.has(item)) continue;
      ids.push(names ? names[item] : item);
      if (distances) distances.push(answer.distances![i]);
    }
    if (!named) return distances ? { ids, distances } : { ids };
    return distances ? { index: entry.name, version: entry.version, ids, distances } : { index: entry.name, version: entry.version, ids };
  }
}
