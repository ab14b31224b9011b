/**
 * Soak: clients query without pause for NNSERVE_SOAK_SECONDS (default 30, the minimum)
 * while the index file is replaced every 1.5 s. Runs in CI with every `npm test`; the clients wait
 * a few ms between requests so the two cores are shared, not saturated.
 *
 * Memory: the nnserve_index_versions_live gauge counts the versions the service still references
 * (the served one plus replaced ones pinned by in-flight requests). Query workers cache only the
 * current version and drop stale ones within a second (sweep), so once the gauge is back to 1 no
 * thread holds an old buffer; RSS is reported as a comment (allocator behaviour makes it a poor
 * pass/fail signal for small files).
 */
import t from 'tap';
import { Pool } from 'undici';
import { buildIndex, http, metric, tempDir, waitFor, writeIndex, type BuiltIndex } from '../service/helpers.js';
import { serveLogged } from './helpers.js';

const SECONDS = Number(process.env.NNSERVE_SOAK_SECONDS ?? 30);
const SWAP_EVERY_MS = 1500;
const ITEMS = 1000;
const DIMS = 16;
const GENERATIONS = 4;

/** Generation k: every id is `g<k>-<i>`, and the vectors differ, so an answer names its file. */
function generation(k: number): BuiltIndex {
  return buildIndex('swap', { metric: 'euclidean', dimensions: DIMS, items: ITEMS, trees: 6, seed: 1000 + k, ids: Array.from({ length: ITEMS }, (_, i) => `g${k}-${i}`) });
}

function generationOf(ids: string[]): number {
  const gens = new Set(ids.map((id) => Number(/^g(\d+)-/.exec(id)?.[1] ?? NaN)));
  return gens.size === 1 ? [...gens][0] : NaN;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test(`${SECONDS} s of queries while the file is replaced every ${SWAP_EVERY_MS} ms`, async (t) => {
  const dir = tempDir(t);
  const gens = Array.from({ length: GENERATIONS }, (_, k) => generation(k + 1));
  writeIndex(dir, 'swap', gens[0]);
  const { server, logs } = await serveLogged(t, dir, { workers: 2, pollIntervalMs: 200, debounceMs: 50 }, 'warn');
  const base = server.url;
  const pool = new Pool(base, { connections: 4 });
  t.teardown(() => pool.close());
  const scrape = async () => (await http(base, 'GET', '/metrics')).text;
  const rssBefore = process.memoryUsage().rss;

  let stop = false;
  const failures: string[] = [];
  const seen: { version: number; gen: number }[] = [];
  let requests = 0;
  const post = async (path: string, body: unknown) => {
    const res = await pool.request({ method: 'POST', path, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.statusCode, text: await res.body.text() };
  };
  const client = async (c: number) => {
    for (let i = 0; !stop; i++) {
      requests++;
      const vector = Array.from({ length: DIMS }, (_, d) => Math.sin(c * 17 + i * 3 + d));
      const kind = i % 4;
      try {
        const r =
          kind === 0
            ? await post('/v1/indexes/swap/search/batch', { queries: [{ vector }, { vector: vector.map((x) => -x) }], n: 5 })
            : kind === 1
              ? await post('/v1/indexes/swap/search', { vector, n: 10, search_k: 5000 })
              : await post('/v1/indexes/swap/search', { vector, n: 5 });
        if (r.status !== 200) {
          failures.push(`${r.status} ${r.text.slice(0, 200)}`);
        } else {
          const body = JSON.parse(r.text) as { version: number; ids?: string[]; results?: { ids: string[] }[] };
          const ids = body.results ? body.results.flatMap((x) => x.ids) : body.ids!;
          seen.push({ version: body.version, gen: generationOf(ids) });
        }
      } catch (err) {
        failures.push(`no answer: ${(err as Error).message}`);
      }
      await sleep(5);
    }
  };
  const clients = [0, 1, 2, 3].map(client);

  let swaps = 0;
  let liveMax = 0;
  const started = Date.now();
  const lastVersion = () => swaps + 1;
  try {
    while (Date.now() - started < SECONDS * 1000) {
      await sleep(SWAP_EVERY_MS);
      swaps++;
      writeIndex(dir, 'swap', gens[swaps % GENERATIONS]);
      // The next replacement waits until this one is served. Otherwise, when CI load stretches a
      // load past the swap interval, the watcher rightly skips to the newest file, and the count
      // of one version per replacement (asserted below) no longer holds.
      const expected = swaps + 1;
      await waitFor(async () => ((await http(base, 'GET', '/v1/indexes/swap')).body.version >= expected ? true : undefined));
      liveMax = Math.max(liveMax, metric(await scrape(), 'nnserve_index_versions_live', { index: 'swap' }) ?? 0);
    }
    await waitFor(async () => ((await http(base, 'GET', '/v1/indexes/swap')).body.version >= lastVersion() ? true : undefined));
    await sleep(300);
  } finally {
    // Also on a failure above: clients that never stop would hold the test open until tap's timeout.
    stop = true;
    await Promise.all(clients);
  }
  t.equal((await http(base, 'GET', '/v1/indexes/swap')).body.version, lastVersion(), 'one version per replacement');

  t.comment(`${requests} requests, ${swaps} swaps, ${seen.length} answers checked, versions live at most ${liveMax}`);
  t.same(failures.slice(0, 10), [], `no failed request (${failures.length} failures)`);
  t.ok(
    seen.every((s) => !Number.isNaN(s.gen)),
    'every answer comes from a single file',
  );
  const genOf = new Map<number, Set<number>>();
  for (const s of seen) genOf.set(s.version, (genOf.get(s.version) ?? new Set()).add(s.gen));
  const mixed = [...genOf].filter(([, g]) => g.size !== 1).map(([v]) => v);
  t.same(mixed, [], 'no version answered with data of two files');
  const versions = [...genOf.keys()].sort((a, b) => a - b);
  t.ok(versions.length >= Math.floor(swaps * 0.8), `answers came from ${versions.length} of ${lastVersion()} versions`);
  const expectedGen = (v: number) => ((v - 1) % GENERATIONS) + 1;
  t.ok(
    versions.every((v) => [...genOf.get(v)!][0] === expectedGen(v)),
    'version v serves the v-th file written',
  );
  t.equal(
    metric(await scrape(), 'nnserve_index_swaps_total', { index: 'swap', result: 'loaded' }),
    lastVersion(),
    'every replacement was loaded once',
  );
  t.same(
    logs.lines.filter((l) => l.level >= 50).map((l) => l.msg),
    [],
    'no error logged',
  );

  await waitFor(async () => (metric(await scrape(), 'nnserve_index_versions_live', { index: 'swap' }) === 1 ? true : undefined));
  t.same(server.app.nn.registry.retained('swap'), [lastVersion()], 'only the last version is still held');
  const rssAfter = process.memoryUsage().rss;
  t.comment(`RSS of the test process: ${(rssBefore / 2 ** 20).toFixed(0)} MiB before, ${(rssAfter / 2 ** 20).toFixed(0)} MiB after ${swaps} swaps of ${(gens[0].ann.byteLength / 2 ** 20).toFixed(2)} MiB files`);
});
