import t from 'tap';
import { buildIndex, http, metric, spawnServer, startServerProcess, tempDir, waitFor, writeIndex, type Teardown } from './helpers.js';


t.test('SIGTERM: readiness fails, the running request finishes, exit code 0', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'slow', buildIndex('slow', { metric: 'euclidean', dimensions: 16, items: 2000, trees: 10, seed: 5 }));
  const { child, base, output, exited } = await spawnServer(t, dir, 1, { NNSERVE_MAX_BATCH: '8192', NNSERVE_DEADLINE_MS: '600000', NNSERVE_LOG_LEVEL: 'info' });

  // Every item query scans the whole index (search_k far above n × trees): a request lasting a while.
  const queries = Array.from({ length: 2048 }, (_, i) => ({ item: i % 2000 }));
  const slow = http(base, 'POST', '/v1/indexes/slow/search/batch', { queries, n: 100, search_k: 1_000_000, include_distances: false });
  await waitFor(async () => {
    const text = (await http(base, 'GET', '/metrics')).text;
    return (metric(text, 'nnserve_pool_active_tasks') ?? 0) + (metric(text, 'nnserve_pool_queue_depth') ?? 0) > 0 ? true : undefined;
  });
  child.kill('SIGTERM');
  // Not ready = 503, or the listener already closed (connection refused).
  await waitFor(async () => {
    const status = await http(base, 'GET', '/readyz').then((r) => r.status, () => 0);
    return status === 503 || status === 0 ? true : undefined;
  });
  t.pass('readiness fails once the signal arrived');

  const r = await slow;
  t.equal(r.status, 200, 'the in-flight request completed');
  t.equal(r.body.results.length, 2048);
  t.ok(r.body.results.every((x: { ids: number[] }) => x.ids.length === 100));
  const [code, signal] = await exited;
  t.equal(signal, null);
  t.equal(code, 0, 'exit code 0');
  t.match(output(), /shut down cleanly/);
});

t.test('with a shutdown delay, /readyz answers 503 while requests are still served', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'small', buildIndex('small', { dimensions: 4, items: 50 }));
  const { child, base, output, exited } = await spawnServer(t, dir, 1, { NNSERVE_SHUTDOWN_DELAY_MS: '1500', NNSERVE_LOG_LEVEL: 'info' });
  child.kill('SIGTERM');
  const notReady = await waitFor(async () => {
    const r = await http(base, 'GET', '/readyz');
    return r.status === 503 ? r : undefined;
  });
  t.equal(notReady.status, 503, 'readiness fails at once');
  const served = await http(base, 'GET', '/v1/indexes/small');
  t.equal(served.status, 200, 'while the load balancer catches up, requests are still answered');
  const [code] = await exited;
  t.equal(code, 0);
  t.match(output(), /shut down cleanly/);
});

t.test('a shutdown delay longer than the grace period: the grace counts from the end of the delay', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'small', buildIndex('small', { dimensions: 4, items: 50 }));
  const { child, base, output, exited } = await spawnServer(t, dir, 1, {
    NNSERVE_SHUTDOWN_DELAY_MS: '1500',
    NNSERVE_SHUTDOWN_GRACE_MS: '500',
    NNSERVE_LOG_LEVEL: 'info',
  });
  const t0 = Date.now();
  child.kill('SIGTERM');
  // Past the grace period but still inside the delay: the server must still be answering.
  await new Promise((r) => setTimeout(r, 900));
  const served = await http(base, 'GET', '/v1/indexes/small').then((r) => r.status, () => 0);
  t.equal(served, 200, 'still serving during the delay, after grace-period milliseconds');
  const [code] = await exited;
  t.equal(code, 0, 'an idle server exits 0');
  t.ok(Date.now() - t0 >= 1400, 'not before the delay is over');
  t.match(output(), /shut down cleanly/);
  t.notMatch(output(), /grace period exceeded/);
});

/** A server busy with a batch that takes seconds on its one worker. */
async function busyServer(t: Teardown, env: Record<string, string>) {
  const dir = tempDir(t);
  writeIndex(dir, 'slow', buildIndex('slow', { metric: 'euclidean', dimensions: 16, items: 2000, trees: 10, seed: 5 }));
  const server = await spawnServer(t, dir, 1, { NNSERVE_MAX_BATCH: '8192', NNSERVE_DEADLINE_MS: '600000', NNSERVE_LOG_LEVEL: 'info', ...env });
  const queries = Array.from({ length: 8192 }, (_, i) => ({ item: i % 2000 }));
  const slow = http(server.base, 'POST', '/v1/indexes/slow/search/batch', { queries, n: 100, search_k: 1_000_000, include_distances: false }).catch(() => null);
  await waitFor(async () => {
    const text = (await http(server.base, 'GET', '/metrics')).text;
    return (metric(text, 'nnserve_pool_active_tasks') ?? 0) > 0 ? true : undefined;
  });
  return { ...server, slow };
}

t.test('the grace period runs out: the process exits anyway, with code 1', async (t) => {
  const { child, output, exited, slow } = await busyServer(t, { NNSERVE_SHUTDOWN_GRACE_MS: '200' });
  const t0 = Date.now();
  child.kill('SIGTERM');
  const [code, signal] = await exited;
  t.equal(signal, null);
  t.equal(code, 1, 'exit code 1: requests were still open');
  t.ok(Date.now() - t0 < 5000, 'without waiting for the request');
  t.match(output(), /shutdown grace period exceeded/);
  await slow;
});

t.test('a second signal exits at once, with code 1', async (t) => {
  const { child, output, exited, slow } = await busyServer(t, { NNSERVE_SHUTDOWN_GRACE_MS: '600000' });
  child.kill('SIGTERM');
  await waitFor(() => (/shutting down/.test(output()) ? true : undefined));
  child.kill('SIGINT');
  const [code] = await exited;
  t.equal(code, 1);
  t.match(output(), /second signal: exiting now/);
  await slow;
});

t.test('a grace period of 0 ms: an idle server that served keep-alive clients still exits 0', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'small', buildIndex('small', { dimensions: 4, items: 50 }));
  const { child, base, output, exited } = await spawnServer(t, dir, 2, { NNSERVE_SHUTDOWN_GRACE_MS: '0', NNSERVE_LOG_LEVEL: 'info' });
  // Connections kept alive by the client are idle, not requests: closing them is not a drain.
  for (let i = 0; i < 5; i++) t.equal((await http(base, 'GET', '/v1/indexes/small/items/3/neighbors?n=3')).status, 200);
  child.kill('SIGTERM');
  const [code, signal] = await exited;
  t.equal(signal, null);
  t.equal(code, 0, 'no request was open, so nothing outlived the grace period');
  t.match(output(), /shut down cleanly/);
  t.notMatch(output(), /grace period exceeded/);
});

t.test('every request answered but a worker still busy: the workers get a short allowance, then exit 1', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'big', buildIndex('big', { metric: 'euclidean', dimensions: 128, items: 20_000, trees: 10, seed: 9 }));
  const { child, base, output, exited } = await spawnServer(t, dir, 1, { NNSERVE_MAX_BATCH: '32768', NNSERVE_DEADLINE_MS: '300', NNSERVE_SHUTDOWN_GRACE_MS: '0', NNSERVE_LOG_LEVEL: 'info' });
  // The caller gets its 504 at the deadline; the batch keeps running on the worker: 32,768 full
  // scans of 20,000 × 128 (~10 s here), so it outlasts the allowance on a much faster machine too.
  const queries = Array.from({ length: 32_768 }, (_, i) => ({ item: i % 20_000 }));
  const late = await http(base, 'POST', '/v1/indexes/big/search/batch', { queries, n: 100, search_k: 1_000_000, include_distances: false });
  t.equal(late.status, 504);
  const t0 = Date.now();
  child.kill('SIGTERM');
  const [code] = await exited;
  const ms = Date.now() - t0;
  t.equal(code, 1, 'exit code 1: the pool did not stop in time');
  t.ok(ms >= 1_900 && ms < 10_000, `exited after the teardown allowance (${ms} ms)`);
  t.match(output(), /exiting while the query workers are still stopping/);
});

t.test('SIGHUP reloads every index instead of killing the process', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'small', buildIndex('small', { dimensions: 4, items: 50 }));
  // No polling and no debounce tricks: only the signal can make a second version.
  const { child, base, output, exited } = await spawnServer(t, dir, 1, { NNSERVE_POLL_INTERVAL_MS: '0', NNSERVE_LOG_LEVEL: 'info' });
  t.equal((await http(base, 'GET', '/v1/indexes/small')).body.version, 1);
  child.kill('SIGHUP');
  const reloaded = await waitFor(async () => {
    const r = await http(base, 'GET', '/v1/indexes/small');
    return r.body.version === 2 ? r : undefined;
  });
  t.equal(reloaded.status, 200, 'still serving, now version 2');
  t.equal(child.exitCode, null, 'still running');
  await waitFor(() => (/SIGHUP reload finished/.test(output()) ? true : undefined));
  child.kill('SIGTERM');
  const [code] = await exited;
  t.equal(code, 0);
});

t.test('SIGHUP: the summary line says why files were rejected, as the admin route answers', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'small', buildIndex('small', { dimensions: 4, items: 50 }));
  const broken = buildIndex('broken', { dimensions: 4, items: 50 });
  writeIndex(dir, 'broken', { ...broken, ann: broken.ann.subarray(0, 100) });
  const { child, output, exited } = await spawnServer(t, dir, 1, { NNSERVE_POLL_INTERVAL_MS: '0', NNSERVE_LOG_LEVEL: 'info' });
  child.kill('SIGHUP');
  const line = await waitFor(() => output().split('\n').find((l) => l.includes('"SIGHUP reload finished"')));
  const { results } = JSON.parse(line) as { results: { index: string; result: string; version?: number; reason?: string }[] };
  // It said {"index":"broken","result":"rejected"} and nothing more: the reason was on another line.
  t.match(results.find((r) => r.index === 'broken'), { result: 'rejected', reason: /^broken\.ann/ });
  t.match(results.find((r) => r.index === 'small'), { result: 'loaded', version: 2 });
  child.kill('SIGTERM');
  const [code] = await exited;
  t.equal(code, 0);
});

/**
 * Holds the listener back for a second and says so on stderr (written synchronously, where the
 * service's own log lines are buffered): a signal sent on that word arrives while the server is
 * still starting, before its handlers for a running server are in place.
 */
const SLOW_LISTEN = [
  "--import=data:text/javascript,import net from 'node:net'; import { writeSync } from 'node:fs';",
  'const listen = net.Server.prototype.listen;',
  "net.Server.prototype.listen = function (...args) { writeSync(2, 'listen-called\\n'); setTimeout(() => listen.apply(this, args), 1000); return this; };",
].join(' ');

/** A server on a small index, caught between building its app and listening. */
async function stillStarting(t: Teardown): Promise<ReturnType<typeof startServerProcess>> {
  const dir = tempDir(t);
  writeIndex(dir, 'small', buildIndex('small', { dimensions: 4, items: 50 }));
  const server = startServerProcess(t, dir, 1, { NNSERVE_LOG_LEVEL: 'info' }, [SLOW_LISTEN]);
  await waitFor(() => (server.output().includes('listen-called') ? true : undefined), 2000, 5);
  return server;
}

t.test('a SIGTERM while the server is still starting: logged, then the usual drain and exit 0', async (t) => {
  const { child, output, exited } = await stillStarting(t);
  child.kill('SIGTERM');
  const [code, signal] = await exited;
  t.equal(signal, null, 'not ended by the signal itself');
  t.equal(code, 0);
  t.match(output(), /"signals":\["SIGTERM"\].*signals received during start-up/);
  t.match(output(), /"reason":"SIGTERM".*shutting down/);
  t.match(output(), /shut down cleanly/);
});

t.test('a SIGHUP while the server is still starting does not end it', async (t) => {
  const { child, output, exited } = await stillStarting(t);
  child.kill('SIGHUP');
  const base = await waitFor(() => /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output())?.[1], 2000);
  await waitFor(async () => ((await http(base, 'GET', '/readyz')).status === 200 ? true : undefined));
  t.equal((await http(base, 'GET', '/v1/indexes/small/items/3/neighbors?n=3')).status, 200, 'serving');
  t.match(output(), /"signals":\["SIGHUP"\].*signals received during start-up/);
  child.kill('SIGTERM');
  t.same(await exited, [0, null]);
});
