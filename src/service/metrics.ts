import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { FastHistogram, type HistogramSeries } from './fast-histogram.js';
import type { QueryPool, WithdrawReason } from './pool/query-pool.js';
import type { QueryAnswer } from './pool/task.js';
import type { IndexEntry, IndexRegistry } from './registry/registry.js';
import type { LoadOutcome } from './registry/watcher.js';

export type QueryKind = 'item' | 'vector' | 'batch';

/** ANN queries take tens of µs to tens of ms: prom-client's default buckets start at 5 ms. */
const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const COUNT_BUCKETS = [1, 10, 30, 100, 300, 1000, 3000, 10_000, 30_000, 100_000, 300_000, 1_000_000, 10_000_000];
const LOAD_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/**
 * The service's Prometheus metrics, on a registry of its own (several apps in one process, as in
 * tests, do not collide). Worker-side counts come back with each task result and are observed here,
 * on the main thread, so none are lost when a worker is replaced.
 *
 * The per-request metrics (HTTP duration, query duration, candidates, search_k) are FastHistograms:
 * a request costs one map lookup and a few additions per observe instead of prom-client's label
 * validation and hashing. `nnserve_queries_total` is read at scrape time from the query-duration
 * counts (one observation per query, the same number).
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly httpDuration: FastHistogram<'route' | 'method' | 'status'>;
  private readonly queryDuration: FastHistogram<'index' | 'kind'>;
  private readonly candidates: HistogramSeries;
  private readonly searchK: HistogramSeries;
  /** Queries answered inline, by index: a plain map on the hot path, read into a counter at scrape time. */
  private readonly inlineCounts = new Map<string, number>();
  private readonly swaps: Counter<'index' | 'result'>;
  private readonly tasksLost: Counter<'retried'>;
  private readonly withdrawn: Counter<'reason'>;
  private readonly loadDuration: Histogram<'index'>;
  private readonly indexItems: Gauge<'index'>;
  private readonly indexTrees: Gauge<'index'>;
  private readonly indexBytes: Gauge<'index'>;
  private readonly indexDimensions: Gauge<'index'>;
  private readonly indexInfo: Gauge<'index' | 'version' | 'metric'>;
  private readonly indexLoaded: Gauge<'index'>;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.httpDuration = new FastHistogram({ name: 'nnserve_http_request_duration_seconds', help: 'HTTP request duration (route is the route pattern).', labelNames: ['route', 'method', 'status'], buckets: LATENCY_BUCKETS, registers });
    const queryDuration = new FastHistogram({ name: 'nnserve_query_duration_seconds', help: 'Engine time per nearest-neighbour query, measured on the thread that ran it (a worker, or the event loop for inline queries).', labelNames: ['index', 'kind'], buckets: LATENCY_BUCKETS, registers });
    this.queryDuration = queryDuration;
    new Counter({
      name: 'nnserve_queries_total',
      help: 'Nearest-neighbour queries the engine answered (each query of a batch counts once), also those finished after their caller got its 504 or left.',
      labelNames: ['index', 'kind'],
      registers,
      collect() {
        this.reset();
        for (const s of queryDuration.all()) this.inc(s.labels, s.count);
      },
    });
    const inlineCounts = this.inlineCounts;
    new Counter({
      name: 'nnserve_queries_inline_total',
      help: 'Queries answered on the event loop instead of a worker (work at most NNSERVE_INLINE_MAX_WORK); the rest of nnserve_queries_total went to the pool.',
      labelNames: ['index'],
      registers,
      collect() {
        this.reset();
        for (const [index, count] of inlineCounts) this.inc({ index }, count);
      },
    });
    this.candidates = new FastHistogram({ name: 'nnserve_query_candidates', help: 'Unique items scored per query.', buckets: COUNT_BUCKETS, registers }).series();
    this.searchK = new FastHistogram({ name: 'nnserve_query_search_k', help: 'Effective search_k per query (n × trees when -1).', buckets: COUNT_BUCKETS, registers }).series();
    this.swaps = new Counter({ name: 'nnserve_index_swaps_total', help: 'Index load attempts by result (loaded, rejected, removed).', labelNames: ['index', 'result'], registers });
    this.tasksLost = new Counter({ name: 'nnserve_pool_tasks_lost_total', help: 'Query tasks whose worker thread died under them (the pool replaces the thread); retried="true" when run again.', labelNames: ['retried'], registers });
    // Both series exist from the start: rate() and increase() cannot see a series' first sample,
    // so an alert would miss the first loss after a start.
    for (const retried of ['true', 'false']) this.tasksLost.inc({ retried }, 0);
    this.withdrawn = new Counter({
      name: 'nnserve_queries_withdrawn_total',
      help: 'Queries taken out of the queue before any worker ran them, nobody waiting for their answer any more: reason="deadline" (the caller got 504; also queries a worker skipped, their deadline past before it got to them), "client_closed" (the client closed its connection, recorded as 499) or "batch_failed" (another part of the batch failed, and the batch was answered with its error).',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of ['deadline', 'client_closed', 'batch_failed'] satisfies WithdrawReason[]) this.withdrawn.inc({ reason }, 0);
    this.loadDuration = new Histogram({ name: 'nnserve_index_load_duration_seconds', help: 'Time to read and validate an index file.', labelNames: ['index'], buckets: LOAD_BUCKETS, registers });
    this.indexItems = new Gauge({ name: 'nnserve_index_items', help: 'Items in the served version.', labelNames: ['index'], registers });
    this.indexTrees = new Gauge({ name: 'nnserve_index_trees', help: 'Trees in the served version.', labelNames: ['index'], registers });
    this.indexBytes = new Gauge({ name: 'nnserve_index_bytes', help: 'Bytes of the served version.', labelNames: ['index'], registers });
    this.indexDimensions = new Gauge({ name: 'nnserve_index_dimensions', help: 'Vector dimensions of the served version.', labelNames: ['index'], registers });
    this.indexInfo = new Gauge({ name: 'nnserve_index_info', help: 'Always 1; labels name the served version and metric.', labelNames: ['index', 'version', 'metric'], registers });
    this.indexLoaded = new Gauge({ name: 'nnserve_index_loaded_timestamp_seconds', help: 'When the served version was published (Unix time).', labelNames: ['index'], registers });
  }

  /** Pool gauges are read at scrape time, so they cost nothing per request. */
  bindPool(pool: QueryPool): void {
    const registers = [this.registry];
    new Gauge({ name: 'nnserve_pool_queue_depth', help: 'Queries waiting for a worker.', registers, collect() { this.set(pool.queueDepth); } });
    new Gauge({ name: 'nnserve_pool_active_tasks', help: 'Query tasks handed to workers (running, or next in a worker queue).', registers, collect() { this.set(pool.activeTasks); } });
    new Gauge({ name: 'nnserve_pool_utilization', help: "Share of the query workers' time spent running queries since the previous scrape (0..1).", registers, collect() { this.set(pool.utilizationSinceLastRead()); } });
    new Gauge({ name: 'nnserve_pool_threads', help: 'Query worker threads.', registers, collect() { this.set(pool.threads); } });
  }

  bindRegistry(registry: IndexRegistry): void {
    new Gauge({
      name: 'nnserve_index_versions_live',
      help: 'Index versions held in memory: the served one plus replaced ones still pinned by in-flight requests (1 per index when no swap is in progress).',
      labelNames: ['index'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [index, count] of registry.liveCounts()) this.set({ index }, count);
      },
    });
    new Gauge({
      name: 'nnserve_index_rejected',
      help: 'Always 1, for each index whose newest files were rejected (its served version, if any, is older); gone once a load succeeds or the files go. GET /v1/indexes says why (lastRejection of a served index, rejected for one never served).',
      labelNames: ['index'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const index of registry.rejectedNames()) this.set({ index }, 1);
      },
    });
    registry.on('published', (entry, previous) => {
      if (previous) this.indexInfo.remove({ index: previous.name, version: String(previous.version), metric: previous.metric });
      this.setIndexGauges(entry);
    });
    registry.on('removed', (entry) => {
      const labels = { index: entry.name };
      this.indexItems.remove(labels);
      this.indexTrees.remove(labels);
      this.indexBytes.remove(labels);
      this.indexDimensions.remove(labels);
      this.indexLoaded.remove(labels);
      this.indexInfo.remove({ index: entry.name, version: String(entry.version), metric: entry.metric });
    });
  }

  /** One finished HTTP request; `route` is the route pattern (ids in paths would explode the label count). */
  observeHttp(route: string, method: string, status: number, seconds: number): void {
    this.httpDuration.series(route, method, String(status)).observe(seconds);
  }

  onTaskLost(retried: boolean): void {
    this.tasksLost.inc({ retried: String(retried) });
  }

  onWithdrawn(reason: WithdrawReason, queries: number): void {
    this.withdrawn.inc({ reason }, queries);
  }

  onLoad(outcome: LoadOutcome): void {
    this.swaps.inc({ index: outcome.index, result: outcome.result });
    if (outcome.seconds !== undefined) this.loadDuration.observe({ index: outcome.index }, outcome.seconds);
  }

  observeQueries(index: string, kind: QueryKind, answers: readonly QueryAnswer[], effectiveSearchK: number, inline: boolean): void {
    const series = this.queryDuration.series(index, kind);
    if (inline) this.inlineCounts.set(index, (this.inlineCounts.get(index) ?? 0) + answers.length);
    for (let i = 0; i < answers.length; i++) {
      const a = answers[i];
      series.observe(a.seconds);
      this.candidates.observe(a.candidates);
      this.searchK.observe(effectiveSearchK);
    }
  }

  private setIndexGauges(e: IndexEntry): void {
    const labels = { index: e.name };
    this.indexItems.set(labels, e.items);
    this.indexTrees.set(labels, e.trees);
    this.indexBytes.set(labels, e.bytes);
    this.indexDimensions.set(labels, e.dimensions);
    this.indexLoaded.set(labels, e.loadedAtMs / 1000);
    this.indexInfo.set({ index: e.name, version: String(e.version), metric: e.metric }, 1);
  }
}
