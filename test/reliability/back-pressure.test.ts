/**
 * Overload: beyond the queue limit requests are shed at once with 503 + Retry-After, queries that
 * miss the deadline get 504, and no accepted request runs past the configured deadline. Latency is
 * checked against the deadline through the server's own histogram, not a timing guess.
 */
import t from 'tap';
import { Pool } from 'undici';
import { buildIndex, http, metric, tempDir, waitFor, writeIndex } from '../service/helpers.js';
import { badErrorAnswer, serveLogged } from './helpers.js';

const DEADLINE_MS = 1000;
/** Smallest bucket of nnserve_http_request_duration_seconds at or above the deadline plus slack for a busy event loop. */
const BOUND_BUCKET = '2.5';

const dir = tempDir(t);
writeIndex(dir, 'slow', buildIndex('slow', { metric: 'euclidean', dimensions: 16, items: 2000, trees: 10, seed: 5 }));
const heavy = (count: number, offset = 0) => ({ queries: Array.from({ length: count }, (_, i) => ({ item: (i + offset) % 2000 })), n: 20, search_k: 1_000_000, include_distances: false });

t.test('a burst far beyond the queue: 200, 503 with Retry-After, or 504 — nothing else, nothing slower than the deadline', async (t) => {
  const { server, logs } = await serveLogged(t, dir, { workers: 1, queueSize: 4, deadlineMs: DEADLINE_MS, maxBatch: 1024 }, 'warn');
  const pool = new Pool(server.url, { connections: 64 });
  t.teardown(() => pool.close());
  const replies = await Promise.all(
    Array.from({ length: 64 }, async (_, i) => {
      const res = await pool.request({ method: 'POST', path: '/v1/indexes/slow/search/batch', headers: { 'content-type': 'application/json' }, body: JSON.stringify(heavy(64, i * 7)) });
      return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
    }),
  );
  const count = (s: number) => replies.filter((r) => r.status === s).length;
  t.comment(`200: ${count(200)}, 503: ${count(503)}, 504: ${count(504)}`);
  t.ok(count(200) > 0, 'some requests were served');
  t.ok(count(503) > 0, 'the excess was shed');
  t.equal(count(200) + count(503) + count(504), replies.length, 'every answer is 200, 503 or 504');
  for (const r of replies.filter((x) => x.status !== 200)) {
    t.equal(badErrorAnswer(r.status, String(r.headers['content-type']), r.text), null, `${r.status}: clean error body`);
    if (r.status === 503) t.equal(r.headers['retry-after'], '1', '503 carries Retry-After');
  }
  const scrape = (await http(server.url, 'GET', '/metrics')).text;
  const route = '/v1/indexes/:name/search/batch';
  for (const status of ['200', '504']) {
    const total = metric(scrape, 'nnserve_http_request_duration_seconds_count', { route, status }) ?? 0;
    const bounded = metric(scrape, 'nnserve_http_request_duration_seconds_bucket', { route, status, le: BOUND_BUCKET }) ?? 0;
    t.equal(bounded, total, `all ${total} answers with status ${status} took under ${BOUND_BUCKET} s (deadline ${DEADLINE_MS} ms)`);
  }
  t.same(
    logs.lines.filter((l) => l.level >= 50).map((l) => l.msg),
    [],
    'no error logged',
  );
  t.equal((await http(server.url, 'POST', '/v1/indexes/slow/search', { vector: Array(16).fill(0.5), n: 3 })).status, 200, 'served normally afterwards');
});

t.test('a query that cannot meet the deadline: 504, and the pool carries on', async (t) => {
  const { server } = await serveLogged(t, dir, { workers: 1, deadlineMs: 200, maxBatch: 8192 }, 'warn');
  const r = await http(server.url, 'POST', '/v1/indexes/slow/search/batch', heavy(8192));
  t.equal(r.status, 504);
  t.equal(badErrorAnswer(r.status, String(r.headers['content-type']), r.text), null, 'clean error body');
  t.match(r.body.message, /did not finish within 200 ms/);
  // Piscina stops a running task by replacing its thread; the next query waits for the new one.
  const after = await waitFor(async () => {
    const x = await http(server.url, 'GET', '/v1/indexes/slow/items/1/neighbors?n=3');
    return x.status === 200 ? x : undefined;
  });
  t.equal(after.body.ids.length, 3, 'answers again');
  t.equal(server.app.nn.pool.threads, 1);
});

t.test('queue size 0: only as many requests as workers run, the rest are shed immediately', async (t) => {
  const { server } = await serveLogged(t, dir, { workers: 1, queueSize: 0, deadlineMs: 30_000, maxBatch: 8192 }, 'warn');
  const first = http(server.url, 'POST', '/v1/indexes/slow/search/batch', heavy(8192));
  await waitFor(() => (server.app.nn.pool.activeTasks === 1 ? true : undefined), 2000, 5);
  // Large search_k: too much work for the event loop, so it needs a worker (small queries run inline).
  const shed = await http(server.url, 'POST', '/v1/indexes/slow/search', { vector: Array(16).fill(0.1), n: 3, search_k: 1_000_000 });
  t.equal(shed.status, 503, 'shed while the only worker is busy');
  t.equal(shed.headers['retry-after'], '1');
  t.equal((await first).status, 200, 'the running request completes');
});
