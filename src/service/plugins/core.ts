import { existsSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { ServiceConfig } from '../config.js';
import { ServiceMetrics } from '../metrics.js';
import { QueryPool } from '../pool/query-pool.js';
import { QueryService } from '../queries.js';
import { ensureDemoIndex, removeDemoIndex } from '../registry/demo.js';
import { IndexRegistry } from '../registry/registry.js';
import { IndexWatcher, type IndexLoad } from '../registry/watcher.js';
import { collectGarbage, enableExplicitGc } from '../gc.js';
import { errors } from '../errors.js';

export interface Lifecycle {
  /** Every index found at start-up has been loaded or rejected. */
  loaded: boolean;
  /** A shutdown signal arrived: readiness fails from now on. */
  shuttingDown: boolean;
  /** The server has begun closing (after any shutdown delay): new requests are refused with 503. */
  closing: boolean;
}

export interface NnServices {
  config: ServiceConfig;
  registry: IndexRegistry;
  pool: QueryPool;
  metrics: ServiceMetrics;
  queries: QueryService;
  watcher: IndexWatcher;
  lifecycle: Lifecycle;
  /** Settles when the initial load is over (success or not). */
  initialLoad: Promise<void>;
  /** Removes what start-up created on disk (the demo index); for a server that failed to listen. */
  undoStartupFiles(): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    nn: NnServices;
  }
}

export interface CoreOptions {
  config: ServiceConfig;
  /** Test hook: replaces the loader worker. */
  load?: IndexLoad;
}

/**
 * Creates the registry, metrics, query pool and directory watcher, and tears them down on close.
 * Indexes load in the background after start-up so `/healthz` answers at once; `/readyz` waits.
 */
async function core(app: FastifyInstance, options: CoreOptions): Promise<void> {
  const { config } = options;
  const log = app.log.child({ component: 'indexes' });
  // A mistyped --index-dir would otherwise come up quietly serving the demo index, or nothing.
  const dirExisted = existsSync(config.indexDir);
  if (!dirExisted) {
    if (config.demo) log.warn({ dir: config.indexDir }, 'index directory does not exist: creating it (with the demo index)');
    else log.error({ dir: config.indexDir }, 'index directory does not exist: serving no index until it appears');
  }
  const demoCreated = config.demo && ensureDemoIndex(config.indexDir);
  if (demoCreated) {
    log.info({ dir: config.indexDir }, 'index directory held no index: created the demo index');
  }
  const registry = new IndexRegistry();
  const metrics = new ServiceMetrics();
  const poolLog = app.log.child({ component: 'pool' });
  enableExplicitGc();
  const pool = new QueryPool({
    workers: config.workers,
    queueSize: config.queueSize,
    versions: registry.versions,
    onTaskLost: (err, retried, task) => {
      metrics.onTaskLost(retried);
      // Which index and version the thread was reading when it died: a file that crashes workers
      // shows up as the same pair again and again.
      poolLog.warn({ err: err.message, retried, index: task.name, version: task.version, queries: task.queries.length }, retried ? 'query worker died under a task; running it again on a fresh worker' : 'query worker died under a task twice; answering 503');
    },
    onWorkerError: (err) => poolLog.error({ err: err.message }, 'query worker failed; replacing it'),
    onWithdrawn: (reason, queries) => metrics.onWithdrawn(reason, queries),
  });
  const queries = new QueryService(registry, pool, metrics, config);
  const watcher = new IndexWatcher(
    registry,
    { dir: config.indexDir, pollIntervalMs: config.pollIntervalMs, debounceMs: config.debounceMs, loadTimeoutMs: config.loadTimeoutMs, log, load: options.load },
    {
      onLoad: (outcome) => metrics.onLoad(outcome),
      // A copy read for nothing lives outside the heap, where V8 feels no pressure to collect it:
      // in a storm of deliveries each landing during the previous load, RSS grew by one index per
      // delivery (400 -> 900 MiB over 25 of a 31 MiB index here) until the storm ended. Collected
      // once this load's frames are gone, so the copy is unreachable.
      onDiscarded: () => setImmediate(collectGarbage),
    },
  );
  metrics.bindPool(pool);
  metrics.bindRegistry(registry);
  registry.on('released', (entry) => {
    log.debug({ index: entry.name, version: entry.version }, 'index version released');
    void pool.sweep().then(collectGarbage);
  });

  const lifecycle: Lifecycle = { loaded: false, shuttingDown: false, closing: false };
  let started: Promise<void> | null = null;
  const services: NnServices = {
    config,
    registry,
    pool,
    metrics,
    queries,
    watcher,
    lifecycle,
    get initialLoad(): Promise<void> {
      return started ?? Promise.resolve();
    },
    undoStartupFiles() {
      if (demoCreated) removeDemoIndex(config.indexDir, !dirExisted);
    },
  };
  app.decorate('nn', services);

  app.addHook('onReady', async () => {
    started = watcher.start().then(
      () => {
        lifecycle.loaded = true;
        log.info({ indexes: registry.names() }, 'initial index load finished');
        // /readyz says which required index is missing, but only to whoever calls it: a probe's
        // failure shows as a bare 503 in Kubernetes' events, and a name misspelt in the setting
        // would keep the pod unready with nothing in the log to say why.
        const missing = registry.notServed(config.requiredIndexes);
        if (missing.length > 0) {
          const why = missing.map((name) => ({ index: name, rejected: registry.rejection(name)?.reason ?? null }));
          log.warn({ missing: why }, 'required indexes not served (NNSERVE_REQUIRE_INDEXES): /readyz answers 503 until they are');
        }
      },
      (err: Error) => {
        lifecycle.loaded = true;
        log.error({ err: err.message }, 'initial index load failed');
      },
    );
  });
  // Requests that still arrive once the server closes (on connections already busy) are refused
  // here, not by Fastify's return503OnClosing: that answer is written below every hook, without the
  // request id, error shape, headers, metrics and access line every other answer has.
  app.addHook('preClose', (done) => {
    lifecycle.closing = true;
    done();
  });
  app.addHook('onRequest', (_request, _reply, done) => done(lifecycle.closing ? errors.shuttingDown() : undefined));
  app.addHook('onClose', async () => {
    lifecycle.shuttingDown = true;
    watcher.stop();
    await watcher.idle();
    await pool.close();
  });
}

export default fp(core, { name: 'nnserve-core', fastify: '5.x' });
