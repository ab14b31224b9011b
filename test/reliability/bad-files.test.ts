/**
 * Broken index files arriving while a good version is served: each is rejected with a log line
 * naming the fault, counted in nnserve_index_swaps_total{result="rejected"}, and the good version
 * keeps answering. (test/service/hot-swap.test.ts covers a truncated file, a short ids file, wrong
 * dimensions and a broken manifest at a coarser level; these cases check the exact reasons.)
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, constants, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import t from 'tap';
import { startServer } from '../../src/service/server.js';
import { loadIndexInWorker } from '../../src/service/registry/loader.js';
import { buildIndex, http, metric, rng, tempDir, testConfig, waitFor, writeTestFiles, writeIndex, type BuiltIndex } from '../service/helpers.js';
import { LogCapture, serveLogged } from './helpers.js';

const ITEMS = 300;
const DIMS = 8;

/** Generation k: ids `g<k>-<i>` tell which file answered; the manifest carries every checkable figure. */
function generation(k: number): BuiltIndex {
  const ids = Array.from({ length: ITEMS }, (_, i) => `g${k}-${i}`);
  const built = buildIndex('swap', { metric: 'euclidean', dimensions: DIMS, items: ITEMS, trees: 4, seed: 100 + k, ids });
  built.manifest.items = ITEMS;
  built.manifest.trees = 4;
  built.manifest.bytes = built.ann.byteLength;
  built.manifest.sha256 = createHash('sha256').update(built.ann).digest('hex');
  return built;
}

function generationOf(ids: string[]): number {
  const gens = new Set(ids.map((id) => Number(/^g(\d+)-/.exec(id)?.[1] ?? NaN)));
  return gens.size === 1 ? [...gens][0] : NaN;
}

const g1 = generation(1);
const g2 = generation(2);
const nodeBytes = 16 + 4 * DIMS;
const noChecks = { ...g2.manifest, bytes: undefined, sha256: undefined };
const random = rng(99);

/**
 * g2's items under 40 split nodes (zero hyperplanes) that each have the node before as both
 * children: acyclic, children backwards, all roots, and 2^40 paths for a search to walk. Served,
 * its first query never ended and took the event loop with it (a small index searches inline).
 */
function sharedSubtrees(depth: number): Uint8Array {
  const bytes = new Uint8Array((ITEMS + depth) * nodeBytes);
  bytes.set(g2.ann.subarray(0, ITEMS * nodeBytes));
  const view = new DataView(bytes.buffer);
  for (let j = 0; j < depth; j++) {
    const node = ITEMS + j;
    view.setInt32(node * nodeBytes, ITEMS, true);
    view.setInt32(node * nodeBytes + 8, j === 0 ? 0 : node - 1, true);
    view.setInt32(node * nodeBytes + 12, j === 0 ? 1 : node - 1, true);
  }
  return bytes;
}

interface Case {
  name: string;
  ann?: Uint8Array;
  manifest?: object | string;
  ids?: string | null;
  reason: RegExp;
}

const cases: Case[] = [
  { name: 'truncated mid-node', ann: g2.ann.subarray(0, g2.ann.byteLength - 100), manifest: noChecks, reason: /file size \d+ bytes is not a multiple of the 48-byte node/ },
  { name: 'truncated on a node boundary', ann: g2.ann.subarray(0, nodeBytes * 150), manifest: noChecks, reason: /swap\.ann .*: .*(items where 300 were expected|truncated)/ },
  { name: 'zero-length', ann: new Uint8Array(0), manifest: noChecks, reason: /the index file is empty/ },
  { name: 'wrong metric', manifest: { ...noChecks, metric: 'angular' }, reason: /swap\.ann \(angular, 8 dimensions, \d+ bytes\): / },
  { name: 'wrong dimensions', manifest: { ...noChecks, dimensions: 7 }, reason: /swap\.ann \(euclidean, 7 dimensions, \d+ bytes\): / },
  { name: 'random bytes', ann: Uint8Array.from({ length: g2.ann.byteLength }, () => Math.floor(random() * 256)), manifest: noChecks, reason: /swap\.ann \(euclidean, 8 dimensions, \d+ bytes\): / },
  { name: 'split nodes sharing their children', ann: sharedSubtrees(40), manifest: { ...noChecks, trees: undefined }, reason: /swap\.ann \(euclidean, 8 dimensions, \d+ bytes\): not a valid index: tree node \d+ is reached twice from the 40 roots/ },
  { name: 'manifest lies about items', manifest: { ...g2.manifest, items: 301 }, reason: /300 items where 301 were expected/ },
  { name: 'manifest lies about bytes', manifest: { ...g2.manifest, bytes: g2.ann.byteLength + 48 }, reason: new RegExp(`swap\\.ann has ${g2.ann.byteLength} bytes, manifest says ${g2.ann.byteLength + 48}`) },
  { name: 'manifest lies about sha256', manifest: { ...g2.manifest, sha256: g1.manifest.sha256 }, reason: /swap\.ann does not match the manifest sha256/ },
  { name: 'manifest lies about trees', manifest: { ...g2.manifest, trees: 9 }, reason: /swap\.ann has 4 trees, manifest says 9/ },
  { name: 'ids file one line short', ids: g2.ids!.slice(1).join('\n') + '\n', reason: /swap\.ids has 299 lines, the index has 300 items/ },
  { name: 'ids file one line long', ids: [...g2.ids!, 'extra'].join('\n') + '\n', reason: /swap\.ids has 301 lines, the index has 300 items/ },
  { name: 'duplicate ids', ids: [...g2.ids!.slice(0, -1), 'g2-0'].join('\n'), reason: /swap\.ids: duplicate id "g2-0"/ },
  { name: 'ids file missing', ids: null, reason: /^swap\.ids \(named by swap\.json\): no such file$/ },
  { name: 'manifest is not JSON', manifest: '{"metric": "euclidean",', reason: /^swap\.json: / },
  // Valid, but read on the event loop by the scan: a data file mislaid as swap.json stalled every request.
  { name: 'manifest over 1 MiB', manifest: { ...g2.manifest, description: 'x'.repeat(1 << 20) }, reason: /^swap\.json: swap\.json has 1048\d{3} bytes, more than the 1048576 allowed$/ },
  { name: 'manifest ids escapes the directory', manifest: { ...g2.manifest, ids: '../../etc/passwd' }, reason: /"ids" must be a plain file name/ },
  { name: 'unknown metric', manifest: { ...g2.manifest, metric: 'cosine' }, reason: /"metric" must be one of/ },
  { name: 'ids checksum without an ids file', manifest: { ...g2.manifest, ids: null, idsSha256: 'a'.repeat(64) }, reason: /"idsSha256" is given but "ids" names no ids file/ },
];

t.test('each broken replacement is rejected with its reason; the served version never changes', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'swap', g1);
  const { server, logs } = await serveLogged(t, dir, { pollIntervalMs: 50, debounceMs: 20 });
  const base = server.url;
  const rejected = async () => metric((await http(base, 'GET', '/metrics')).text, 'nnserve_index_swaps_total', { index: 'swap', result: 'rejected' }) ?? 0;
  const query = { vector: [0.1, 0.2, 0.3, 0.4, -0.1, -0.2, -0.3, -0.4], n: 5 };

  for (const [i, c] of cases.entries()) {
    // Every case writes all three files, so no fault carries over from the case before.
    const ids = c.ids === undefined ? g2.ids!.join('\n') + '\n' : c.ids;
    // Staged and renamed back to back, as a deliverer would: one case, one reload.
    if (ids === null) rmSync(join(dir, 'swap.ids'), { force: true });
    writeTestFiles([
      ...(ids === null ? [] : [{ path: join(dir, 'swap.ids'), data: ids }]),
      { path: join(dir, 'swap.ann'), data: c.ann ?? g2.ann },
      { path: join(dir, 'swap.json'), data: typeof c.manifest === 'string' ? c.manifest : JSON.stringify(c.manifest ?? g2.manifest) },
    ]);
    await waitFor(async () => ((await rejected()) >= i + 1 ? true : undefined));
    const lines = logs.find('index rejected; keeping the version being served', { index: 'swap' });
    const line = lines[i];
    t.ok(line, `${c.name}: log line`);
    t.equal(line?.level, 40, `${c.name}: logged as a warning`);
    t.equal(line?.servingVersion, 1, `${c.name}: log names the version still served`);
    t.match(String(line?.err), c.reason, `${c.name}: reason "${String(line?.err).slice(0, 160)}"`);
    const r = await http(base, 'POST', '/v1/indexes/swap/search', query);
    t.equal(r.status, 200, `${c.name}: still answering`);
    t.equal(r.body.version, 1, `${c.name}: still version 1`);
    t.equal(generationOf(r.body.ids), 1, `${c.name}: answers come from the first file`);
  }
  t.equal(await rejected(), cases.length, 'one rejection counted per broken replacement');
  t.equal(metric((await http(base, 'GET', '/metrics')).text, 'nnserve_index_swaps_total', { index: 'swap', result: 'loaded' }), 1, 'no broken version was loaded');
  t.equal((await http(base, 'GET', '/readyz')).status, 200, 'still ready');

  writeIndex(dir, 'swap', g2);
  await waitFor(async () => ((await http(base, 'GET', '/v1/indexes/swap')).body.version === 2 ? true : undefined));
  const r = await http(base, 'POST', '/v1/indexes/swap/search', query);
  t.equal(generationOf(r.body.ids), 2, 'a valid file is taken after all the rejections');
});

t.test('files replaced while being read: the half-read pair is never published', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'swap', g1);
  const g3 = generation(3);
  // The real loader, with a replacement landing after it read the files and before the watcher
  // publishes them: exactly the window in which a mixed or stale version could slip through.
  let during: (() => void) | null = null;
  const load = async (d: string, name: string) => {
    const loaded = await loadIndexInWorker({ dir: d, name });
    const hook = during;
    during = null;
    hook?.();
    return loaded;
  };
  const { server, logs } = await serveLogged(t, dir, { pollIntervalMs: 50, debounceMs: 20 }, 'info', load);
  during = () => writeIndex(dir, 'swap', g3);
  writeIndex(dir, 'swap', g2);
  await waitFor(async () => ((await http(server.url, 'GET', '/v1/indexes/swap')).body.version === 2 ? true : undefined));
  const r = await http(server.url, 'POST', '/v1/indexes/swap/search', { vector: [1, 1, 1, 1, 1, 1, 1, 1], n: 5 });
  t.equal(generationOf(r.body.ids), 3, 'version 2 is the file that landed last');
  t.ok(logs.find('index files changed while loading; retrying', { index: 'swap' }).length >= 1, 'the change during the load was logged');
  t.same(
    logs.find('index loaded', { index: 'swap' }).map((l) => l.version),
    [1, 2],
    'the stale read was not published as a version',
  );
});

t.test('an ids file that is a FIFO is rejected, and holds up neither readiness nor later swaps', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'other', buildIndex('other', { dimensions: 4, items: 30 }));
  writeTestFiles([
    { path: join(dir, 'swap.ann'), data: g1.ann },
    { path: join(dir, 'swap.json'), data: JSON.stringify(g1.manifest) },
  ]);
  // Opening a FIFO for reading waits for a writer: a loader doing so never returned.
  const fifo = join(dir, 'swap.ids');
  execFileSync('mkfifo', [fifo]);
  t.teardown(() => {
    // Releases a reader stuck on the FIFO (the behaviour this test guards against), so a failing
    // run ends instead of hanging in the server's shutdown.
    try {
      closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // No reader waiting.
    }
  });
  const logs = new LogCapture();
  const server = await startServer({ config: testConfig(dir, { logLevel: 'info', pollIntervalMs: 50, debounceMs: 20 }), logger: pino({ level: 'info' }, logs.stream) });
  t.teardown(() => server.shutdown('test over'));
  const base = server.url;

  await waitFor(async () => ((await http(base, 'GET', '/readyz')).status === 200 ? true : undefined), 200);
  t.pass('ready once the start-up load is over');
  // Rejected before any version was served (this pinned the old wording, "keeping the version being served").
  const [line] = logs.find('index rejected; nothing served under this name', { index: 'swap' });
  t.match(String(line?.err), /^swap\.ids \(named by swap\.json\): swap\.ids is not a regular file$/, 'the reason names the ids file');
  t.equal(metric((await http(base, 'GET', '/metrics')).text, 'nnserve_index_swaps_total', { index: 'swap', result: 'rejected' }), 1);
  t.equal((await http(base, 'GET', '/v1/indexes/other')).status, 200, 'the other index is served');

  // The watcher is not stuck: a real ids file in place of the FIFO is loaded.
  rmSync(fifo);
  writeTestFiles([{ path: fifo, data: g1.ids!.join('\n') + '\n' }]);
  await waitFor(async () => ((await http(base, 'GET', '/v1/indexes/swap')).status === 200 ? true : undefined), 200);
  const r = await http(base, 'POST', '/v1/indexes/swap/search', { vector: [1, 1, 1, 1, 1, 1, 1, 1], n: 5 });
  t.equal(generationOf(r.body.ids), 1, 'the index is served once its ids file is a file');
});
