/**
 * Faults: query worker threads dying under a task, and SIGTERM in the middle of traffic.
 *
 * A worker is killed from outside with Worker#terminate() on the pool's own thread objects (as an
 * out-of-memory abort or a crash in native code would end it): no test-only code path exists in
 * the service, the test only needs to reach the thread the way an operator's fault would.
 */
import { once, type EventEmitter } from 'node:events';
import type { Worker } from 'node:worker_threads';
import t from 'tap';
import { Pool } from 'undici';
import { buildIndex, http, metric, spawnServer, tempDir, waitFor, writeIndex } from '../service/helpers.js';
import { badErrorAnswer, serveLogged } from './helpers.js';


/** The service's Piscina instance; only its public API (threads, events) is used. */
function piscinaOf(server: { app: { nn: { pool: unknown } } }): EventEmitter & { threads: Worker[] } {
  return (server.app.nn.pool as { piscina: EventEmitter & { threads: Worker[] } }).piscina;
}

function threadsOf(server: { app: { nn: { pool: unknown } } }): Worker[] {
  return piscinaOf(server).threads;
}

const dir = tempDir(t);
writeIndex(dir, 'slow', buildIndex('slow', { metric: 'euclidean', dimensions: 16, items: 2000, trees: 10, seed: 5 }));
writeIndex(dir, 'small', buildIndex('small', { metric: 'angular', dimensions: 4, items: 100, seed: 6 }));
/** Every query scans the whole index (search_k far above n × trees): a task lasting a while. */
const slowBatch = (count: number) => ({ queries: Array.from({ length: count }, (_, i) => ({ item: i % 2000 })), n: 20, search_k: 1_000_000, include_distances: false });

t.test('a worker killed under a task: the task is retried on its replacement, answer unchanged', async (t) => {
  const { server, logs } = await serveLogged(t, dir, { workers: 2, maxBatch: 8192, deadlineMs: 120_000 });
  const body = slowBatch(4096);
  const expected = await http(server.url, 'POST', '/v1/indexes/slow/search/batch', body);
  t.equal(expected.status, 200);

  const pending = http(server.url, 'POST', '/v1/indexes/slow/search/batch', body);
  await waitFor(() => (server.app.nn.pool.activeTasks >= 2 ? true : undefined), 2000, 5);
  const victim = threadsOf(server)[0];
  await victim.terminate();
  const r = await pending;
  t.equal(r.status, 200, 'the request still succeeds');
  t.same(r.body.results, expected.body.results, 'with the same answer');
  await waitFor(() => (threadsOf(server).length === 2 && !threadsOf(server).includes(victim) ? true : undefined));
  t.pass('the dead thread was replaced');
  const scrape = (await http(server.url, 'GET', '/metrics')).text;
  t.equal(metric(scrape, 'nnserve_pool_tasks_lost_total', { retried: 'true' }), 1, 'the lost task is counted');
  t.equal(logs.find('query worker died under a task; running it again on a fresh worker').length, 1, 'and logged');
  t.same(
    logs.find('query worker died under a task; running it again on a fresh worker').map((l) => [l.index, l.version, l.queries]),
    [['slow', 1, 4096 / 2]],
    'naming the index, version and queries of the lost task (half the batch: one part per worker)',
  );
  t.equal((await http(server.url, 'GET', '/v1/indexes/small/items/3/neighbors?n=3')).status, 200, 'later queries work');
});

t.test('a task whose worker dies twice gets a clean 503 with Retry-After; the process survives', async (t) => {
  const { server, logs } = await serveLogged(t, dir, { workers: 1, maxBatch: 8192, deadlineMs: 20_000 });
  const pending = http(server.url, 'POST', '/v1/indexes/slow/search/batch', slowBatch(8192));
  const pool = server.app.nn.pool;
  await waitFor(() => (pool.activeTasks === 1 && pool.queueDepth === 0 ? true : undefined), 2000, 5);
  const first = threadsOf(server)[0];
  const replaced = once(piscinaOf(server), 'workerCreate');
  await first.terminate();
  // Kill the replacement only once it runs the retried task (a thread killed while booting would
  // make Piscina stop replacing threads, which is not the fault under test).
  // Piscina announces a replacement thread ('workerCreate') when it is ready, and hands it the
  // queued retry in the same tick: a thread killed while still booting would make Piscina stop
  // replacing threads, which is not the fault under test.
  await replaced;
  await new Promise((r) => setImmediate(r));
  await threadsOf(server)[0].terminate();
  const r = await pending;
  t.equal(r.status, 503);
  t.equal(badErrorAnswer(r.status, String(r.headers['content-type']), r.text), null, 'clean error body');
  t.equal(r.headers['retry-after'], '1');
  t.match(r.body.message, /worker failed/);
  t.equal(logs.find('query worker died under a task twice; answering 503').length, 1, 'logged');
  await waitFor(() => (threadsOf(server).length === 1 ? true : undefined));
  const after = await http(server.url, 'GET', '/v1/indexes/small/items/3/neighbors?n=3');
  t.equal(after.status, 200, 'the pool recovered');
  t.equal((await http(server.url, 'GET', '/healthz')).status, 200);
});

t.test('SIGTERM under load: accepted requests answered, new ones refused, exit 0', async (t) => {
  const { child, base, output, exited } = await spawnServer(t, dir, 2, {
    NNSERVE_MAX_BATCH: '8192', NNSERVE_DEADLINE_MS: '60000', NNSERVE_LOG_LEVEL: 'info', NNSERVE_ACCESS_LOG: 'true', NNSERVE_SHUTDOWN_DELAY_MS: '300',
  });

  const pool = new Pool(base, { connections: 8 });
  t.teardown(() => pool.destroy());
  type Outcome = { id: string; status?: number; error?: string; body?: string; contentType?: string };
  const outcomes: Outcome[] = [];
  const send = async (id: string, path: string, body: unknown): Promise<Outcome> => {
    try {
      const res = await pool.request({ method: 'POST', path, headers: { 'content-type': 'application/json', 'x-request-id': id }, body: JSON.stringify(body) });
      const text = await res.body.text();
      return { id, status: res.statusCode, body: text, contentType: String(res.headers['content-type']) };
    } catch (err) {
      return { id, error: (err as { code?: string }).code ?? (err as Error).message };
    }
  };
  let refused = false;
  const lane = async (c: number) => {
    // Each lane keeps sending until the server refuses a connection (bounded by a large cap).
    for (let i = 0; i < 20_000 && !refused; i++) {
      const o = await send(`c${c}-${i}`, '/v1/indexes/small/search', { vector: [Math.sin(i), Math.cos(i), c, 1], n: 5 });
      outcomes.push(o);
      if (o.error === 'ECONNREFUSED') refused = true;
    }
  };
  const lanes = [0, 1, 2, 3, 4, 5].map(lane);
  const slow = [send('slow-0', '/v1/indexes/slow/search/batch', slowBatch(4096)), send('slow-1', '/v1/indexes/slow/search/batch', slowBatch(4096))];
  await waitFor(() => (outcomes.filter((o) => o.status === 200).length >= 300 ? true : undefined));
  await waitFor(async () => {
    const text = (await http(base, 'GET', '/metrics')).text;
    return (metric(text, 'nnserve_pool_active_tasks') ?? 0) >= 1 ? true : undefined;
  });
  child.kill('SIGTERM');
  const [code, signal] = await exited;
  await Promise.all(lanes);
  const slowOutcomes = await Promise.all(slow);

  t.equal(signal, null);
  t.equal(code, 0, 'exit code 0');
  t.match(output(), /shut down cleanly/);
  t.notMatch(output(), /grace period exceeded/);
  for (const s of slowOutcomes) {
    t.equal(s.status, 200, `${s.id}: in flight at SIGTERM, answered`);
    t.equal(JSON.parse(s.body ?? '{}').results?.length, 4096, `${s.id}: complete`);
  }
  const byStatus = new Map<string, number>();
  for (const o of outcomes) byStatus.set(String(o.status ?? o.error), (byStatus.get(String(o.status ?? o.error)) ?? 0) + 1);
  t.comment(`outcomes: ${JSON.stringify(Object.fromEntries(byStatus))}`);
  t.ok(
    outcomes.every((o) => o.status === 200 || o.status === 503 || o.error !== undefined),
    'answers are 200, or 503 while closing',
  );
  for (const o of outcomes.filter((x) => x.status === 503)) t.equal(badErrorAnswer(503, o.contentType, o.body ?? ''), null, `${o.id}: clean 503`);
  t.ok(
    outcomes.every((o) => o.error === undefined || ['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE'].includes(o.error)),
    'the only failures are refused or closed connections',
  );
  t.ok(refused, 'new connections are refused once the listener closed');

  // The server's access log is the list of requests it accepted and answered: each one reached its client.
  const served = new Map<string, number>();
  for (const line of output().split('\n')) {
    if (!line.startsWith('{')) continue;
    const l = JSON.parse(line) as { msg?: string; reqId?: string; status?: number };
    if (l.msg === 'request completed' && l.reqId) served.set(l.reqId, l.status!);
  }
  const received = new Map(outcomes.filter((o) => o.status !== undefined).map((o) => [o.id, o.status!]));
  for (const s of slowOutcomes) if (s.status !== undefined) received.set(s.id, s.status);
  // Only this test's ids (probes and scrapes made above carry generated ids).
  const lost = [...served].filter(([id, status]) => /^(c\d+-\d+|slow-\d)$/.test(id) && received.get(id) !== status);
  t.same(lost, [], `every request the server answered (${served.size}) was received by its client`);
  const unanswered = outcomes.filter((o) => o.error !== undefined && served.has(o.id));
  t.same(unanswered, [], 'no request failed on the client after the server handled it');
  const after = await send('after', '/v1/indexes/small/search', { vector: [1, 2, 3, 4] });
  t.equal(after.error, 'ECONNREFUSED', 'after exit: refused');
});
