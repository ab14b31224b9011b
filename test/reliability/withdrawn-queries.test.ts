/**
 * Work nobody waits for is not done: queries still waiting for a worker when their caller's deadline
 * passes (504) or their client closes the connection (499) leave the queue at once. They are never
 * sent to a worker, their queue slots take new requests, and nnserve_queries_withdrawn_total counts
 * them by reason. One worker is kept busy by a heavy batch while the queue fills.
 */
import { join } from 'node:path';
import t from 'tap';
import { request } from 'undici';
import { AnnoyIndex } from '../../src/annoy/index.js';
import { readIndexFile } from '../../src/index-files/read-storage.js';
import type { QueryPool } from '../../src/service/pool/query-pool.js';
import type { QueryMessage, QueryReply } from '../../src/service/pool/task.js';
import type { RunningServer } from '../../src/service/server.js';
import { buildIndex, http, metric, tempDir, waitFor, writeIndex } from '../service/helpers.js';
import { serveLogged } from './helpers.js';

const dir = tempDir(t);
writeIndex(dir, 'slow', buildIndex('slow', { metric: 'euclidean', dimensions: 16, items: 2000, trees: 10, seed: 5 }));
const engine = AnnoyIndex.open(readIndexFile(join(dir, 'slow.ann')), 'euclidean', 16);

/** One task of 8192 queries that score every item: seconds of work for the only worker. */
const BLOCKER = { queries: Array.from({ length: 8192 }, (_, i) => ({ item: i % 2000 })), n: 20, search_k: 1_000_000, include_distances: false };
/** A search too heavy to run inline (it goes to the pool); `x` tells the queries apart. */
const search = (x: number) => ({ vector: Array.from({ length: 16 }, (_, d) => Math.sin(x + d)), n: 3, search_k: 1_000_000 });
const SEARCH = '/v1/indexes/slow/search';

/** First components of every vector query the pool posts to a worker (a worker-side count). */
function postedVectors(server: RunningServer): number[] {
  const seen: number[] = [];
  const pool = server.app.nn.pool as unknown as { runQuery(message: QueryMessage): Promise<QueryReply> };
  const post = pool.runQuery.bind(pool);
  pool.runQuery = (message) => {
    for (const q of message.queries) if (typeof q !== 'number') seen.push(q[0]);
    return post(message);
  };
  return seen;
}
const first = (x: number) => Math.fround(Math.sin(x));

/** POSTs `body` to `path` with an abort signal; settles (never rejects) once answered or aborted. */
function abortable(server: RunningServer, body: unknown, signal: AbortSignal): Promise<number | 'aborted'> {
  return request(server.url + SEARCH, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal }).then(
    async (res) => {
      await res.body.text();
      return res.statusCode;
    },
    () => 'aborted' as const,
  );
}

/** Sends the blocker and one more heavy search, so the worker's two task slots are taken and later queries wait in line. */
async function occupy(server: RunningServer, pool: QueryPool): Promise<Promise<unknown>[]> {
  const blocker = http(server.url, 'POST', '/v1/indexes/slow/search/batch', BLOCKER);
  await waitFor(() => (pool.activeTasks === 1 ? true : undefined), 400, 5);
  const second = http(server.url, 'POST', SEARCH, search(100));
  await waitFor(() => (pool.activeTasks === 2 ? true : undefined), 400, 5);
  return [blocker, second];
}

const scrape = async (server: RunningServer) => (await http(server.url, 'GET', '/metrics')).text;
const withdrawn = (text: string, reason: string) => metric(text, 'nnserve_queries_withdrawn_total', { reason });

t.test('clients that close their connection while their queries wait: withdrawn, never run, their slots reused', async (t) => {
  // Capacity 1 + 3: the blocker, the search in the worker's port, and two waiting searches.
  const { server, logs } = await serveLogged(t, dir, { workers: 1, queueSize: 3, deadlineMs: 60_000, maxBatch: 8192, accessLog: true });
  const { pool } = server.app.nn;
  const posted = postedVectors(server);
  t.same([withdrawn(await scrape(server), 'deadline'), withdrawn(await scrape(server), 'client_closed')], [0, 0], 'both series exist from the start');
  const busy = await occupy(server, pool);

  const controllers = [new AbortController(), new AbortController()];
  const abandoned = controllers.map((c, i) => abortable(server, search(i + 1), c.signal));
  await waitFor(() => (pool.queueDepth === 2 ? true : undefined), 400, 5);
  t.equal((await http(server.url, 'POST', SEARCH, search(50))).status, 503, 'the queue is full');

  controllers[0].abort();
  await waitFor(() => (pool.queueDepth === 1 ? true : undefined), 200, 5);
  t.equal(withdrawn(await scrape(server), 'client_closed'), 1, 'one query withdrawn, from the group it shared with the other');
  controllers[1].abort();
  await waitFor(() => (pool.queueDepth === 0 ? true : undefined), 200, 5);
  t.same(await Promise.all(abandoned), ['aborted', 'aborted']);

  // Both slots are free again while the worker is still busy: two new requests are taken, not shed.
  const fresh = [http(server.url, 'POST', SEARCH, search(3)), http(server.url, 'POST', SEARCH, search(4))];
  await waitFor(() => (pool.queueDepth === 2 ? true : undefined), 400, 5);
  t.ok(pool.activeTasks === 2, 'while the worker was still busy');
  const answers = await Promise.all(fresh);
  t.same(answers.map((r) => r.status), [200, 200], 'accepted and answered');
  for (const [i, r] of answers.entries()) t.same(r.body.ids, engine.getNnsByVector(search(i + 3).vector, 3, 1_000_000).ids, `search ${i + 3}: the right neighbours`);
  await Promise.all(busy);

  t.same(posted.filter((x) => x === first(1) || x === first(2)), [], 'the withdrawn queries never reached a worker');
  t.ok(posted.includes(first(3)) && posted.includes(first(4)), 'the ones that took their slots did');
  const text = await scrape(server);
  t.equal(withdrawn(text, 'client_closed'), 2);
  t.equal(withdrawn(text, 'deadline'), 0);
  t.equal(metric(text, 'nnserve_queries_total', { index: 'slow', kind: 'vector' }), 3, 'answered: the one in the worker\'s port and the two new ones');
  t.equal(metric(text, 'nnserve_http_request_duration_seconds_count', { route: '/v1/indexes/:name/search', status: '499' }), 2, 'the closed ones are recorded as 499');
  t.same(logs.lines.filter((l) => l.level >= 40).map((l) => l.msg), [], 'nothing logged as a warning or error');
});

t.test('queries still waiting when their deadline passes: withdrawn with their 504, never run, their slots reused', async (t) => {
  // The blocker must outlast the deadline: it takes ~3 s on a 2-vCPU EPYC VM, so 500 ms leaves a
  // machine six times faster per core room, and a loaded one half a second to queue the requests.
  const { server, logs } = await serveLogged(t, dir, { workers: 1, queueSize: 3, deadlineMs: 500, maxBatch: 8192 }, 'warn');
  const { pool } = server.app.nn;
  const posted = postedVectors(server);
  const busy = await occupy(server, pool);

  // A batch of 5 and a search: one group of 6 queries, then both late.
  const late = [
    http(server.url, 'POST', '/v1/indexes/slow/search/batch', { queries: [1, 2, 3, 4, 5].map((x) => ({ vector: search(x).vector })), n: 3, search_k: 1_000_000 }),
    http(server.url, 'POST', SEARCH, search(6)),
  ];
  await waitFor(() => (pool.queueDepth === 6 ? true : undefined), 400, 5);
  t.equal((await http(server.url, 'POST', SEARCH, search(50))).status, 503, 'the queue is full');
  t.same((await Promise.all(late)).map((r) => r.status), [504, 504]);
  t.equal(pool.queueDepth, 0, 'gone from the queue with their 504');
  t.equal(withdrawn(await scrape(server), 'deadline'), 6, 'each query counts');

  // The blocker still runs (seconds), yet a new request is taken instead of shed.
  t.ok(pool.activeTasks > 0, 'while the worker was still busy');
  const taken = await http(server.url, 'POST', SEARCH, search(7));
  t.not(taken.status, 503, 'a freed slot takes a new request');
  // A slow machine can still be running the blocker at its deadline (504, withdrawn too), a fast one not.
  if (taken.status === 200) t.same(taken.body.ids, engine.getNnsByVector(search(7).vector, 3, 1_000_000).ids, 'answered correctly');
  else t.equal(taken.status, 504);
  await Promise.all(busy);
  // The blocker's caller had its 504 long ago: wait for the worker itself.
  await waitFor(() => (pool.activeTasks === 0 && pool.queueDepth === 0 ? true : undefined));

  t.same(posted.filter((x) => [1, 2, 3, 4, 5, 6].some((i) => x === first(i))), [], 'the late queries never reached a worker');
  const text = await scrape(server);
  // The search in the worker's port (occupy) is skipped there, its deadline long past: never run either.
  t.equal(withdrawn(text, 'deadline'), taken.status === 504 ? 8 : 7);
  t.equal(withdrawn(text, 'client_closed'), 0);
  const after = await http(server.url, 'POST', SEARCH, search(8));
  t.equal(after.status, 200, 'the pool serves normally afterwards');
  t.same(after.body.ids, engine.getNnsByVector(search(8).vector, 3, 1_000_000).ids);
  t.same(logs.lines.filter((l) => l.level >= 40).map((l) => l.msg), [], 'nothing logged as a warning or error');
});

t.test("a batch answered with one part's error (503 queue full mid-batch): its other parts leave the queue unrun", async (t) => {
  // Two workers: a batch of 24 goes out as two parts of 12. Capacity 2 + 3 = 5 tasks: two blockers
  // (two parts each) take all four worker slots, so the batch's first part waits and its second is shed.
  const { server, logs } = await serveLogged(t, dir, { workers: 2, queueSize: 3, deadlineMs: 60_000, maxBatch: 8192 }, 'warn');
  const { pool } = server.app.nn;
  const posted = postedVectors(server);
  t.equal(withdrawn(await scrape(server), 'batch_failed'), 0, 'the series exists from the start');
  const blockers = [http(server.url, 'POST', '/v1/indexes/slow/search/batch', BLOCKER), http(server.url, 'POST', '/v1/indexes/slow/search/batch', BLOCKER)];
  await waitFor(() => (pool.activeTasks === 4 ? true : undefined), 400, 5);

  const xs = Array.from({ length: 24 }, (_, i) => 200 + i);
  const batch = await http(server.url, 'POST', '/v1/indexes/slow/search/batch', { queries: xs.map((x) => ({ vector: search(x).vector })), n: 3, search_k: 1_000_000 });
  t.equal(batch.status, 503, 'the part that did not fit fails the batch');
  t.equal(pool.queueDepth, 0, 'the part that was waiting left the queue with the answer');
  t.equal(withdrawn(await scrape(server), 'batch_failed'), 12, 'each of its queries counts');
  t.equal(pool.activeTasks, 4, 'while the blockers still ran');

  await Promise.all(blockers);
  await waitFor(() => (pool.activeTasks === 0 ? true : undefined));
  t.same(posted.filter((x) => xs.some((i) => x === first(i))), [], 'no query of the failed batch reached a worker');
  const text = await scrape(server);
  t.equal(withdrawn(text, 'deadline'), 0);
  t.equal(withdrawn(text, 'client_closed'), 0);
  const after = await http(server.url, 'POST', SEARCH, search(9));
  t.same(after.body.ids, engine.getNnsByVector(search(9).vector, 3, 1_000_000).ids, 'the pool serves normally afterwards');
  t.same(logs.lines.filter((l) => l.level >= 40).map((l) => l.msg), [], 'nothing logged as a warning or error');
});
