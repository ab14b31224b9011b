import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { AnnoyIndex } from '../../src/annoy/index.js';
import { readIndexFile } from '../../src/index-files/read-storage.js';
import { connect } from 'node:net';
import { serveLogged } from '../reliability/helpers.js';
import { buildIndex, http, metric, serve, tempDir, waitFor, writeIndex } from './helpers.js';

const dir = tempDir(t);
const TREES = 5;
const built = buildIndex('m', { metric: 'euclidean', dimensions: 8, items: 300, trees: TREES, seed: 11 });
writeIndex(dir, 'm', built);
// Opened exactly as the server opens it (same storage kind, same kernels), so candidate counts agree.
const engine = AnnoyIndex.open(readIndexFile(join(dir, 'm.ann')), 'euclidean', 8);
const server = await serve(t, dir, { workers: 2 });
const base = server.url;

const vec = (i: number) => Array.from({ length: 8 }, (_, d) => Math.cos(i * 1.7 + d));

t.test('counts from the workers are all observed', async (t) => {
  let candidates = 0;
  let searchK = 0;
  // 7 item queries, default search_k (n × trees).
  const items = [1, 2, 3, 5, 8, 13, 21];
  for (const item of items) {
    const r = await http(base, 'GET', `/v1/indexes/m/items/${item}/neighbors?n=4`);
    t.equal(r.status, 200);
    candidates += engine.getNnsByItem(item, 4).candidates;
    searchK += 4 * TREES;
  }
  // 120 vector queries sent all at once, so both workers answer some.
  const replies = await Promise.all(Array.from({ length: 120 }, (_, i) => http(base, 'POST', '/v1/indexes/m/search', { vector: vec(i), n: 3, search_k: 50 + i })));
  t.ok(replies.every((r) => r.status === 200));
  for (let i = 0; i < 120; i++) {
    candidates += engine.getNnsByVector(vec(i), 3, 50 + i).candidates;
    searchK += 50 + i;
  }
  // Two batches of 20, each split into two tasks.
  for (let b = 0; b < 2; b++) {
    const queries = Array.from({ length: 20 }, (_, i) => (i % 2 ? { item: i + b } : { vector: vec(1000 + i + b) }));
    const r = await http(base, 'POST', '/v1/indexes/m/search/batch', { queries, n: 6, search_k: 77 });
    t.equal(r.status, 200);
    for (let i = 0; i < 20; i++) {
      candidates += i % 2 ? engine.getNnsByItem(i + b, 6, 77).candidates : engine.getNnsByVector(vec(1000 + i + b), 6, 77).candidates;
      searchK += 77;
    }
  }
  // Failed queries are not counted.
  t.equal((await http(base, 'POST', '/v1/indexes/m/search', { vector: [1] })).status, 400);

  const text = (await http(base, 'GET', '/metrics')).text;
  t.equal(metric(text, 'nnserve_queries_total', { index: 'm', kind: 'item' }), 7);
  t.equal(metric(text, 'nnserve_queries_total', { index: 'm', kind: 'vector' }), 120);
  t.equal(metric(text, 'nnserve_queries_total', { index: 'm', kind: 'batch' }), 40);
  t.equal(metric(text, 'nnserve_query_duration_seconds_count', { index: 'm', kind: 'vector' }), 120);
  t.equal(metric(text, 'nnserve_query_duration_seconds_count', { index: 'm', kind: 'batch' }), 40);
  t.ok(metric(text, 'nnserve_query_duration_seconds_bucket', { index: 'm', kind: 'vector', le: '0.0001' }) !== undefined, 'sub-millisecond buckets');
  t.equal(metric(text, 'nnserve_query_candidates_count'), 167);
  t.equal(metric(text, 'nnserve_query_candidates_sum'), candidates, 'candidate counts reported by the workers');
  t.equal(metric(text, 'nnserve_query_search_k_count'), 167);
  t.equal(metric(text, 'nnserve_query_search_k_sum'), searchK);
  t.equal(metric(text, 'nnserve_http_request_duration_seconds_count', { route: '/v1/indexes/:name/items/:id/neighbors', method: 'GET', status: '200' }), 7);
  t.equal(metric(text, 'nnserve_http_request_duration_seconds_count', { route: '/v1/indexes/:name/search', method: 'POST', status: '200' }), 120);
  t.equal(metric(text, 'nnserve_http_request_duration_seconds_count', { route: '/v1/indexes/:name/search', method: 'POST', status: '400' }), 1);
});

t.test('index and pool gauges', async (t) => {
  const text = (await http(base, 'GET', '/metrics')).text;
  t.equal(metric(text, 'nnserve_index_items', { index: 'm' }), 300);
  t.equal(metric(text, 'nnserve_index_trees', { index: 'm' }), engine.getNTrees());
  t.equal(metric(text, 'nnserve_index_bytes', { index: 'm' }), built.ann.byteLength);
  t.equal(metric(text, 'nnserve_index_dimensions', { index: 'm' }), 8);
  t.equal(metric(text, 'nnserve_index_info', { index: 'm', version: '1', metric: 'euclidean' }), 1);
  const loaded = metric(text, 'nnserve_index_loaded_timestamp_seconds', { index: 'm' })!;
  t.ok(Math.abs(loaded - server.app.nn.registry.get('m')!.loadedAtMs / 1000) < 0.001);
  t.equal(metric(text, 'nnserve_index_swaps_total', { index: 'm', result: 'loaded' }), 1);
  t.equal(metric(text, 'nnserve_index_load_duration_seconds_count', { index: 'm' }), 1);
  t.equal(metric(text, 'nnserve_pool_queue_depth'), 0);
  t.equal(metric(text, 'nnserve_pool_active_tasks'), 0);
  t.equal(metric(text, 'nnserve_pool_threads'), 2);
  const utilization = metric(text, 'nnserve_pool_utilization')!;
  t.ok(utilization >= 0 && utilization <= 1);
  t.ok(metric(text, 'process_resident_memory_bytes')! > 0, 'default process metrics');
  t.equal(metric(text, 'nnserve_http_request_duration_seconds_count', { route: '/metrics' }), 1, 'the scrape itself is counted once done');
});

t.test('requests whose client gives up before the answer are counted and logged, as 499', async (t) => {
  const slowDir = tempDir(t);
  writeIndex(slowDir, 'slow', buildIndex('slow', { dimensions: 32, items: 4000, trees: 4, seed: 5 }));
  const { server, logs } = await serveLogged(t, slowDir, { workers: 1, maxBatch: 4096, accessLog: true });
  const { port } = server;
  /** Writes `text` on a raw connection and closes it once the server is working on it, before any answer can arrive. */
  const giveUp = async (text: string) => {
    const socket = connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(text);
    // Whole request received and its work under way: a fixed wait could close it before then on a loaded machine.
    await waitFor(async () => {
      const scrape = (await http(server.url, 'GET', '/metrics')).text;
      return (metric(scrape, 'nnserve_pool_active_tasks') ?? 0) + (metric(scrape, 'nnserve_pool_queue_depth') ?? 0) > 0 ? true : undefined;
    });
    socket.destroy();
  };
  // A batch that scores every item for each of its 4096 queries: far slower than the client waits.
  const body = JSON.stringify({ queries: Array.from({ length: 4096 }, (_, i) => ({ item: i % 4000 })), n: 5, search_k: 1_000_000 });
  await giveUp(`POST /v1/indexes/slow/search/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  await waitFor(() => (logs.find('request completed', { route: '/v1/indexes/:name/search/batch', status: 499 }).length === 1 ? true : undefined), 400);
  // The batch's worker finishes later; nothing more may be recorded for it then.
  await waitFor(async () => (metric((await http(server.url, 'GET', '/metrics')).text, 'nnserve_queries_total', { index: 'slow', kind: 'batch' }) === 4096 ? true : undefined), 400);
  const text = (await http(server.url, 'GET', '/metrics')).text;
  t.equal(metric(text, 'nnserve_http_request_duration_seconds_count', { route: '/v1/indexes/:name/search/batch', method: 'POST', status: '499' }), 1, 'the abandoned batch');
  t.equal(metric(text, 'nnserve_http_request_duration_seconds_count', { route: '/v1/indexes/:name/search/batch', method: 'POST', status: '200' }), undefined, 'recorded once, not again when its work ends');
  const lines = logs.find('request completed', { route: '/v1/indexes/:name/search/batch' });
  t.equal(lines.length, 1, 'one access line');
  t.equal(lines[0].ip, '127.0.0.1', 'naming the client, whose socket was already closed');
});

t.test('pool utilization is the share of worker time spent on queries since the previous scrape', async (t) => {
  const busyDir = tempDir(t);
  const dimensions = 256;
  writeIndex(busyDir, 'busy', buildIndex('busy', { dimensions, items: 4000, trees: 4, seed: 3 }));
  const busy = await serve(t, busyDir, { workers: 2, inlineMaxWork: 0 });
  const scrape = async () => {
    const text = (await http(busy.url, 'GET', '/metrics')).text;
    return { at: performance.now(), utilization: metric(text, 'nnserve_pool_utilization')!, engineSeconds: metric(text, 'nnserve_query_duration_seconds_sum', { index: 'busy', kind: 'vector' }) ?? 0 };
  };
  const before = await scrape();
  // Eight clients keep both workers' queues full for a second; each query scores every item.
  const until = Date.now() + 1000;
  const statuses = new Set<number>();
  await Promise.all(
    Array.from({ length: 8 }, async (_, c) => {
      for (let i = 0; Date.now() < until; i++) {
        const vector = Array.from({ length: dimensions }, (_, d) => Math.sin((i * 8 + c) * 0.37 + d));
        statuses.add((await http(busy.url, 'POST', '/v1/indexes/busy/search', { vector, n: 5, search_k: 1_000_000 })).status);
      }
    }),
  );
  t.same([...statuses], [200]);
  const after = await scrape();
  // What the workers spent in the engine between the two scrapes, over what two threads had.
  const expected = (after.engineSeconds - before.engineSeconds) / (((after.at - before.at) / 1000) * 2);
  t.ok(expected > 0.1, `the workers were kept busy (${expected})`);
  t.ok(Math.abs(after.utilization - expected) < 0.02 + 0.1 * expected, `utilization ${after.utilization}, engine time says ${expected}`);
  t.equal((await scrape()).utilization, 0, 'idle since the previous scrape');
});

t.test('queries a worker finishes after their caller got its 504 are counted, with their engine time', async (t) => {
  const lateDir = tempDir(t);
  writeIndex(lateDir, 'late', buildIndex('late', { dimensions: 32, items: 4000, trees: 4, seed: 5 }));
  const late = await serve(t, lateDir, { workers: 1, maxBatch: 4096, deadlineMs: 100 });
  // One task that scores every item for each of its 4096 queries: already at the worker when the
  // deadline passes, so it runs to its end for nobody.
  const body = { queries: Array.from({ length: 4096 }, (_, i) => ({ item: i % 4000 })), n: 5, search_k: 1_000_000 };
  t.equal((await http(late.url, 'POST', '/v1/indexes/late/search/batch', body)).status, 504);
  const text = await waitFor(async () => {
    const scrape = (await http(late.url, 'GET', '/metrics')).text;
    return metric(scrape, 'nnserve_pool_active_tasks') === 0 ? scrape : undefined;
  });
  t.equal(metric(text, 'nnserve_queries_withdrawn_total', { reason: 'deadline' }), 0, 'nothing was left in the queue');
  t.equal(metric(text, 'nnserve_queries_total', { index: 'late', kind: 'batch' }), 4096);
  t.equal(metric(text, 'nnserve_query_duration_seconds_count', { index: 'late', kind: 'batch' }), 4096);
  t.ok(metric(text, 'nnserve_query_duration_seconds_sum', { index: 'late', kind: 'batch' })! > 0.1, 'more engine time than the deadline left');
  t.equal(metric(text, 'nnserve_query_candidates_count'), 4096);
  t.equal(metric(text, 'nnserve_query_search_k_sum'), 4096 * 1_000_000);
});

t.test('an index removed from the directory: its gauges go, the removal is counted and logged with the version it served', async (t) => {
  const goneDir = tempDir(t);
  writeIndex(goneDir, 'stays', buildIndex('stays', { seed: 1 }));
  writeIndex(goneDir, 'goes', buildIndex('goes', { seed: 2 }));
  const { server, logs } = await serveLogged(t, goneDir, { pollIntervalMs: 50, debounceMs: 20 });
  writeIndex(goneDir, 'goes', buildIndex('goes', { seed: 3 }));
  await waitFor(() => (server.app.nn.registry.get('goes')?.version === 2 ? true : undefined));
  unlinkSync(join(goneDir, 'goes.ann'));
  await waitFor(() => (server.app.nn.registry.get('goes') ? undefined : true));
  const text = (await http(server.url, 'GET', '/metrics')).text;
  for (const name of ['nnserve_index_items', 'nnserve_index_trees', 'nnserve_index_bytes', 'nnserve_index_dimensions', 'nnserve_index_loaded_timestamp_seconds', 'nnserve_index_versions_live', 'nnserve_index_rejected']) {
    t.equal(metric(text, name, { index: 'goes' }), undefined, `${name} of the removed index is gone`);
  }
  t.equal(metric(text, 'nnserve_index_info', { index: 'goes' }), undefined);
  t.equal(metric(text, 'nnserve_index_items', { index: 'stays' }), 200, 'the other index keeps its gauges');
  t.equal(metric(text, 'nnserve_index_swaps_total', { index: 'goes', result: 'removed' }), 1);
  t.same(
    logs.find('index removed from directory; no longer served').map((l) => [l.index, l.version]),
    [['goes', 2]],
    'the log names the index and the version that stopped being served',
  );
});
