import t from 'tap';
import { buildIndex, http, metric, spawnServer, tempDir, waitFor, writeIndex } from './helpers.js';


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
