import { chmodSync, copyFileSync, mkdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { IndexLoadError, loadIndexInWorker } from '../../src/service/registry/loader.js';
import { serveLogged } from '../reliability/helpers.js';
import { AnnoyBuilder } from '../../src/annoy/index.js';
import { IdLookup } from '../../src/index-files/id-lookup.js';
import { buildIndex, http, metric, serve, tempDir, waitFor, writeTestFile, writeIndex, type BuiltIndex } from './helpers.js';

const ITEMS = 300;

/** Generation k of the index: its ids say which generation answered (`g<k>-<i>`). */
function generation(k: number): BuiltIndex {
  const ids = Array.from({ length: ITEMS }, (_, i) => `g${k}-${i}`);
  return buildIndex('swap', { metric: 'euclidean', dimensions: 8, items: ITEMS, trees: 4, seed: 100 + k, ids });
}

function generationOf(ids: string[]): number {
  const gens = new Set(ids.map((id) => Number(/^g(\d+)-/.exec(id)?.[1] ?? NaN)));
  return gens.size === 1 ? [...gens][0] : NaN;
}

async function servedVersion(base: string, name = 'swap'): Promise<number | undefined> {
  const r = await http(base, 'GET', `/v1/indexes/${name}`);
  return r.status === 200 ? (r.body.version as number) : undefined;
}

t.test('replacing files under concurrent load: no failed request, every answer matches its version', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'swap', generation(1));
  const server = await serve(t, dir, { workers: 2, pollIntervalMs: 100, debounceMs: 30 });
  const base = server.url;

  let stop = false;
  const failures: string[] = [];
  const seen: { version: number; gen: number }[] = [];
  const client = async (c: number) => {
    let i = 0;
    while (!stop) {
      i++;
      const vector = Array.from({ length: 8 }, (_, d) => Math.sin(c * 31 + i * 7 + d));
      const batch = i % 3 === 0;
      const r = batch
        ? await http(base, 'POST', '/v1/indexes/swap/search/batch', { queries: [{ vector }, { vector: vector.map((x) => -x) }], n: 5 })
        : await http(base, 'POST', '/v1/indexes/swap/search', { vector, n: 5 });
      if (r.status !== 200) {
        failures.push(`${r.status} ${r.text}`);
        continue;
      }
      const ids: string[] = batch ? r.body.results.flatMap((x: { ids: string[] }) => x.ids) : r.body.ids;
      seen.push({ version: r.body.version, gen: generationOf(ids) });
    }
  };
  const clients = [0, 1, 2, 3].map(client);

  const staging = tempDir(t, 'nnserve-staging-');
  for (let k = 2; k <= 6; k++) {
    const before = (await servedVersion(base))!;
    const built = generation(k);
    if (k % 2 === 0) {
      writeIndex(dir, 'swap', built);
    } else {
      // copy-then-rename: the copy lands under a temporary name first (as `cp` + `mv` would do).
      writeFileSync(join(staging, 'swap.ann'), built.ann);
      writeFileSync(join(staging, 'swap.ids'), built.ids!.join('\n') + '\n');
      writeFileSync(join(staging, 'swap.json'), JSON.stringify(built.manifest));
      for (const f of ['swap.ids', 'swap.json', 'swap.ann']) {
        copyFileSync(join(staging, f), join(dir, `.${f}.partial`));
        renameSync(join(dir, `.${f}.partial`), join(dir, f));
      }
    }
    await waitFor(async () => ((await servedVersion(base))! > before ? true : undefined));
    // Let the clients run a little on the new version before the next swap.
    const count = seen.length;
    await waitFor(() => (seen.length >= count + 20 ? true : undefined));
  }
  stop = true;
  await Promise.all(clients);

  t.same(failures, [], 'no failed request');
  t.ok(seen.length > 100, `${seen.length} answers checked`);
  t.ok(
    seen.every((s) => !Number.isNaN(s.gen)),
    'every answer comes from one generation',
  );
  const genOf = new Map<number, number>();
  let consistent = true;
  for (const s of seen) {
    if (genOf.has(s.version) && genOf.get(s.version) !== s.gen) consistent = false;
    genOf.set(s.version, s.gen);
  }
  t.ok(consistent, 'each version always answers with the same data');
  const versions = [...genOf.keys()].sort((a, b) => a - b);
  t.ok(versions.length >= 5, `answers came from ${versions.length} versions`);
  t.ok(
    versions.every((v, i) => i === 0 || genOf.get(v)! > genOf.get(versions[i - 1])!),
    'newer versions serve newer files',
  );
  const last = (await servedVersion(base))!;
  t.equal(genOf.get(last) ?? 6, 6, 'the last file is served');
  await waitFor(() => (server.app.nn.registry.retained('swap').length === 1 ? true : undefined));
  t.same(server.app.nn.registry.retained('swap'), [last], 'replaced versions were released');
  const scrape = (await http(base, 'GET', '/metrics')).text;
  t.equal(metric(scrape, 'nnserve_index_swaps_total', { index: 'swap', result: 'loaded' }), last);
  t.equal(metric(scrape, 'nnserve_index_info', { index: 'swap', version: String(last), metric: 'euclidean' }), 1);
  t.equal(metric(scrape, 'nnserve_index_info', { index: 'swap', version: String(last - 1) }), undefined, 'old info series removed');
});

t.test('Kubernetes-style ..data symlink flip', async (t) => {
  const dir = tempDir(t);
  const publish = (k: number) => {
    const gen = join(dir, `..2026_${k}`);
    mkdirSync(gen);
    writeIndex(gen, 'swap', generation(k));
    symlinkSync(`..2026_${k}`, join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  };
  publish(1);
  for (const f of ['swap.ann', 'swap.json', 'swap.ids']) symlinkSync(join('..data', f), join(dir, f));
  const server = await serve(t, dir, { pollIntervalMs: 100, debounceMs: 30 });
  const ask = () => http(server.url, 'POST', '/v1/indexes/swap/search', { vector: [1, 2, 3, 4, 5, 6, 7, 8], n: 3 });
  t.equal(generationOf((await ask()).body.ids), 1);
  publish(2);
  rmSync(join(dir, '..2026_1'), { recursive: true });
  await waitFor(async () => ((await servedVersion(server.url)) === 2 ? true : undefined));
  const r = await ask();
  t.equal(r.body.version, 2);
  t.equal(generationOf(r.body.ids), 2, 'the flipped files are served');
});

t.test('a ..data flip that leaves a link dangling a second time is logged the second time too', async (t) => {
  const dir = tempDir(t);
  const publish = (k: number, withSwap: boolean) => {
    const gen = join(dir, `..2026_${k}`);
    mkdirSync(gen);
    writeIndex(gen, 'other', buildIndex('other', { dimensions: 4, items: 30, seed: k }));
    if (withSwap) writeIndex(gen, 'swap', generation(k));
    symlinkSync(`..2026_${k}`, join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  };
  publish(1, true);
  for (const f of ['swap.ann', 'swap.json', 'swap.ids', 'other.ann', 'other.json']) symlinkSync(join('..data', f), join(dir, f));
  const { server, logs } = await serveLogged(t, dir, { pollIntervalMs: 50, debounceMs: 20 });
  const dangling = () => logs.find('ignoring file in index directory', { file: 'swap.ann', reason: 'swap.ann is a symlink to a missing file; swap.ann and swap.json must be regular files (or symlinks to them)' }).length;
  // A projection without the key, one with it again, one without it again.
  for (const [k, withSwap, version] of [[2, false, 1], [3, true, 2], [4, false, 2]] as const) {
    publish(k, withSwap);
    await waitFor(async () => ((await servedVersion(server.url, 'other')) === k ? true : undefined), 200);
    if (withSwap) await waitFor(async () => ((await servedVersion(server.url)) === version ? true : undefined), 200);
    else await waitFor(async () => ((await servedVersion(server.url)) === undefined ? true : undefined), 200);
  }
  t.equal(logs.find('index removed from directory; no longer served', { index: 'swap' }).length, 2, 'removed twice');
  t.equal(dangling(), 2, 'and each time the log says why');
});

t.test('the id lookup of an index arrives from the loader thread built and shared, and finds every id of the version served', async (t) => {
  const items = 50_000;
  const builder = new AnnoyBuilder('euclidean', 1, { seed: 1 });
  for (let i = 0; i < items; i++) builder.addItem(i, [i % 1000]);
  builder.build(1);
  const ann = builder.save();
  const index = (k: number): BuiltIndex => {
    const ids = Array.from({ length: items }, (_, i) => `g${k}-product-${i}`);
    return { ann, ids, vectors: [], manifest: { metric: 'euclidean', dimensions: 1, annoyVersion: '1.17', ids: 'many.ids' } };
  };
  const dir = tempDir(t);
  writeIndex(dir, 'many', index(1));
  // Built at publish, a Map of the ids held the event loop at every swap: 344-372 ms per 400,000
  // ids here (2.6 s for a million), against 40-85 ms now (receiving the ids); too noisy to assert.
  const loaded = await loadIndexInWorker({ dir, name: 'many' });
  t.ok(loaded.idTable?.buffer instanceof SharedArrayBuffer, 'the loader sends the table, in shared memory');
  const lookup = new IdLookup(loaded.ids!, loaded.idTable!);
  let wrong = 0;
  for (let i = 0; i < items; i++) if (lookup.get(`g1-product-${i}`) !== i) wrong++;
  t.equal(wrong, 0, 'and it finds every id');
  const server = await serve(t, dir, { pollIntervalMs: 100, debounceMs: 20 });
  writeIndex(dir, 'many', index(2));
  await waitFor(async () => ((await servedVersion(server.url, 'many')) === 2 ? true : undefined), 400);
  t.equal((await http(server.url, 'GET', `/v1/indexes/many/items/g2-product-${items - 1}`)).status, 200, 'the last id of the new version is found');
  t.equal((await http(server.url, 'GET', '/v1/indexes/many/items/g1-product-0')).status, 404, 'an id of the replaced version is not');
});

t.test('a storm of deliveries, each landing while the one before loads, does not pile up copies in memory', async (t) => {
  const items = 100_000;
  const f = 48;
  const builder = new AnnoyBuilder('euclidean', f, { seed: 2 });
  const v = new Float32Array(f);
  for (let i = 0; i < items; i++) {
    for (let z = 0; z < f; z++) v[z] = ((i * 31 + z * 17) % 101) / 101;
    builder.addItem(i, v);
  }
  builder.build(1);
  const ann = builder.save();
  const dir = tempDir(t);
  writeIndex(dir, 'storm', { ann, ids: null, vectors: [], manifest: { metric: 'euclidean', dimensions: f, annoyVersion: '1.17', ids: null } });
  const { logs } = await serveLogged(t, dir, { pollIntervalMs: 50, debounceMs: 10 });
  const dropped = () => logs.find('index files changed while loading; retrying', { index: 'storm' }).length;
  const rss = () => process.memoryUsage.rss();
  const before = rss();
  let peak = before;
  // Each copy read for nothing lived outside the heap until some later collection: RSS grew by
  // one index per dropped load (400 -> 900 MiB over 22 drops of a 31 MiB index).
  for (let delivery = 0; delivery < 80 && dropped() < 12; delivery++) {
    writeTestFile(join(dir, '.storm.ann.tmp'), ann);
    renameSync(join(dir, '.storm.ann.tmp'), join(dir, 'storm.ann'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    peak = Math.max(peak, rss());
  }
  t.ok(dropped() >= 12, `loads were dropped unpublished (${dropped()})`);
  const growth = (peak - before) / ann.byteLength;
  t.ok(growth < 6, `RSS grew by ${growth.toFixed(1)} index sizes at most during the storm`);
});

t.test('invalid replacements are rejected and the old version keeps serving', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'swap', generation(1));
  const server = await serve(t, dir, { pollIntervalMs: 100, debounceMs: 30 });
  const base = server.url;
  const rejected = async () => metric((await http(base, 'GET', '/metrics')).text, 'nnserve_index_swaps_total', { index: 'swap', result: 'rejected' }) ?? 0;
  const check = async (t: Tap, expectRejections: number) => {
    await waitFor(async () => ((await rejected()) >= expectRejections ? true : undefined));
    const r = await http(base, 'POST', '/v1/indexes/swap/search', { vector: [0, 0, 0, 0, 0, 0, 0, 0], n: 3 });
    t.equal(r.status, 200);
    t.equal(r.body.version, 1, 'still version 1');
    t.equal(generationOf(r.body.ids), 1);
  };
  type Tap = typeof t;

  const g2 = generation(2);
  writeTestFile(join(dir, 'swap.ann'), g2.ann.subarray(0, g2.ann.byteLength - 100));
  await check(t, 1);

  writeTestFile(join(dir, 'swap.ann'), generation(1).ann);
  writeTestFile(join(dir, 'swap.ids'), g2.ids!.slice(0, 10).join('\n'));
  await check(t, 2);

  writeTestFile(join(dir, 'swap.ids'), generation(1).ids!.join('\n'));
  writeTestFile(join(dir, 'swap.json'), JSON.stringify({ ...g2.manifest, dimensions: 7 }));
  await check(t, 3);

  writeTestFile(join(dir, 'swap.json'), '{not json');
  await check(t, 4);

  writeIndex(dir, 'swap', g2);
  await waitFor(async () => ((await servedVersion(base)) === 2 ? true : undefined));
  const r = await http(base, 'POST', '/v1/indexes/swap/search', { vector: [0, 0, 0, 0, 0, 0, 0, 0], n: 3 });
  t.equal(generationOf(r.body.ids), 2, 'a valid file is picked up after rejections');
});

t.test('an ids file the manifest names under another name: its late arrival and its replacement alone are picked up', async (t) => {
  const dir = tempDir(t);
  const g1 = generation(1);
  // The manifest and the .ann land first, the ids file they name after them: rejected at first.
  writeTestFile(join(dir, 'swap.ann'), g1.ann);
  writeTestFile(join(dir, 'swap.json'), JSON.stringify({ ...g1.manifest, ids: 'swap-ids.txt' }));
  const { server, logs } = await serveLogged(t, dir, { pollIntervalMs: 50, debounceMs: 20 });
  t.equal(logs.find(/^index rejected/).length, 1, 'rejected while its ids file is missing');
  writeTestFile(join(dir, 'swap-ids.txt'), g1.ids!.join('\n') + '\n');
  await waitFor(async () => ((await servedVersion(server.url)) === 1 ? true : undefined), 200);
  t.equal((await http(server.url, 'GET', '/v1/indexes/swap/items/g1-7')).status, 200, 'served once the ids file arrives');
  // New ids for the same vectors, delivered on their own.
  writeTestFile(join(dir, 'swap-ids.txt'), g1.ids!.map((id) => id.replace(/^g1-/, 'g9-')).join('\n') + '\n');
  await waitFor(async () => ((await servedVersion(server.url)) === 2 ? true : undefined), 200);
  const r = await http(server.url, 'GET', '/v1/indexes/swap/items/g9-7');
  t.equal(r.status, 200, 'the replaced ids file is served');
  t.equal(r.body.version, 2);
  t.equal((await http(server.url, 'GET', '/v1/indexes/swap/items/g1-7')).status, 404, 'the old ids are gone');
});

t.test('an ids file landing after its .ann and manifest: idsSha256 keeps the old version until it arrives', async (t) => {
  const dir = tempDir(t);
  const idsText = (built: BuiltIndex) => built.ids!.join('\n') + '\n';
  const withIdsSha = (built: BuiltIndex) => ({ ...built.manifest, idsSha256: createHash('sha256').update(idsText(built)).digest('hex') });
  const g1 = generation(1);
  writeIndex(dir, 'swap', { ...g1, manifest: withIdsSha(g1) });
  const server = await serve(t, dir, { pollIntervalMs: 50, debounceMs: 20 });
  t.equal(await servedVersion(server.url), 1);

  // The new .ann and manifest first, the ids file a while later (out of the documented order): the
  // old ids file has as many lines, so before idsSha256 generation 2's vectors were served under
  // generation 1's ids until the new ids file landed.
  const g2 = generation(2);
  writeTestFile(join(dir, 'swap.ann'), g2.ann);
  writeTestFile(join(dir, 'swap.json'), JSON.stringify(withIdsSha(g2)));
  const rejected = await waitFor(async () => {
    const r = await http(server.url, 'GET', '/v1/indexes/swap');
    return r.body.lastRejection ? r.body : undefined;
  }, 200);
  t.equal(rejected.version, 1, 'version 1 keeps serving');
  t.equal(rejected.lastRejection.reason, 'swap.ids does not match the manifest idsSha256 (the ids file of another version?)');
  const answer = await http(server.url, 'GET', '/v1/indexes/swap/items/g1-7/neighbors?n=5');
  t.equal(generationOf(answer.body.ids), 1, 'answers stay generation 1 throughout');

  writeTestFile(join(dir, 'swap.ids'), idsText(g2));
  await waitFor(async () => ((await servedVersion(server.url)) === 2 ? true : undefined), 200);
  const r = await http(server.url, 'GET', '/v1/indexes/swap/items/g2-7/neighbors?n=5');
  t.equal(r.status, 200);
  t.equal(generationOf(r.body.ids), 2, 'then generation 2, under its own ids');
});

t.test('new index names appear, removed ones disappear', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'swap', generation(1));
  const server = await serve(t, dir, { pollIntervalMs: 100, debounceMs: 30 });
  writeIndex(dir, 'fresh', buildIndex('fresh', { items: 20, dimensions: 3 }));
  await waitFor(async () => ((await servedVersion(server.url, 'fresh')) === 1 ? true : undefined));
  const list = await http(server.url, 'GET', '/v1/indexes');
  t.same(
    list.body.indexes.map((i: { name: string }) => i.name),
    ['fresh', 'swap'],
  );
  rmSync(join(dir, 'fresh.ann'));
  await waitFor(async () => ((await http(server.url, 'GET', '/v1/indexes/fresh')).status === 404 ? true : undefined));
  t.pass('removed index is no longer served');
});

t.test('an index the service could not read is loaded once its permissions are fixed', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'swap', generation(1));
  const ann = join(dir, 'swap.ann');
  chmodSync(ann, 0o000);
  // Root reads any file: the loader refuses an unreadable one as it would fail for any other user.
  const load = async (d: string, name: string) => {
    if ((statSync(join(d, `${name}.ann`)).mode & 0o444) === 0) throw new IndexLoadError(`EACCES: permission denied, open '${name}.ann'`);
    return loadIndexInWorker({ dir: d, name });
  };
  const { server } = await serveLogged(t, dir, { pollIntervalMs: 50, debounceMs: 20 }, 'silent', load);
  t.equal(metric((await http(server.url, 'GET', '/metrics')).text, 'nnserve_index_swaps_total', { index: 'swap', result: 'rejected' }), 1, 'rejected at start-up');
  // A chmod changes neither the file's content, size, mtime nor inode: only its mode (and ctime).
  chmodSync(ann, 0o644);
  await waitFor(async () => ((await servedVersion(server.url)) === 1 ? true : undefined), 200);
  t.pass('served without a new delivery or an admin reload');
});

t.test('a chmod of an index being served does not reload it', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'swap', generation(1));
  const server = await serve(t, dir, { pollIntervalMs: 50, debounceMs: 20 });
  chmodSync(join(dir, 'swap.ann'), 0o600);
  chmodSync(join(dir, 'swap.json'), 0o600);
  // Another index appearing proves a scan has run since (every scan visits every name).
  writeIndex(dir, 'other', buildIndex('other', { items: 20, dimensions: 3 }));
  await waitFor(async () => ((await servedVersion(server.url, 'other')) === 1 ? true : undefined), 200);
  await server.app.nn.watcher.idle();
  t.equal(await servedVersion(server.url), 1, 'same bytes, same version: no re-read');
});

t.test('an index landing during the initial load is served after it, with polling off', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'swap', generation(1));
  let first = true;
  // The first load (the start-up one) is slow, as a multi-GB file is; the new index lands during it.
  const load = async (d: string, name: string) => {
    if (first) {
      first = false;
      writeIndex(dir, 'fresh', buildIndex('fresh', { items: 20, dimensions: 3 }));
      await new Promise((r) => setTimeout(r, 500));
    }
    return loadIndexInWorker({ dir: d, name });
  };
  const { server } = await serveLogged(t, dir, { pollIntervalMs: 0, debounceMs: 20 }, 'silent', load);
  await waitFor(async () => ((await servedVersion(server.url, 'fresh')) === 1 ? true : undefined), 200);
  t.pass('the new index is served without another change in the directory');
});

t.test('an index replaced while the start-up load reads it: the service is ready only once it is served', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'swap', generation(1));
  let first = true;
  // The deliverer publishes version 2 while the start-up load reads version 1: that read is discarded.
  const load = async (d: string, name: string) => {
    const loaded = await loadIndexInWorker({ dir: d, name });
    if (first) {
      first = false;
      writeIndex(dir, 'swap', generation(2));
    }
    return loaded;
  };
  // Polling off and a long debounce: only the start-up load itself can serve the index before readiness.
  const { server } = await serveLogged(t, dir, { pollIntervalMs: 0, debounceMs: 300 }, 'silent', load);
  const ready = await http(server.url, 'GET', '/readyz');
  t.equal(ready.status, 200);
  t.same(ready.body, { status: 'ready', indexes: 1 }, 'ready with the index found at start-up');
  const r = await http(server.url, 'POST', '/v1/indexes/swap/search', { vector: [1, 2, 3, 4, 5, 6, 7, 8], n: 3 });
  t.equal(r.status, 200, 'and it answers');
  t.equal(generationOf(r.body.ids), 2, 'from the files that settled');
});

t.test('an index directory gone for a while is logged once, not at every poll', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'swap', generation(1));
  const { server, logs } = await serveLogged(t, dir, { pollIntervalMs: 20, debounceMs: 20 });
  const moved = `${dir}-moved`;
  renameSync(dir, moved);
  await new Promise((r) => setTimeout(r, 500));
  renameSync(moved, dir);
  await waitFor(() => (logs.find('index directory readable again').length > 0 ? true : undefined), 200);
  t.equal(logs.find('cannot read index directory').length, 1, 'one error line for the outage (about 25 polls)');
  t.equal(logs.find('index directory readable again').length, 1, 'and one line when it is back');
  t.equal(await servedVersion(server.url), 1, 'the index was served throughout');
});

t.test('registry keeps a replaced version until its last task releases it', async (t) => {
  const { IndexRegistry } = await import('../../src/service/registry/registry.js');
  const { storageFromBytes } = await import('../../src/annoy/index.js');
  const registry = new IndexRegistry();
  const released: number[] = [];
  registry.on('released', (e) => released.push(e.version));
  const g1 = generation(1);
  const loaded = { manifest: g1.manifest, ids: g1.ids, idTable: null, storage: storageFromBytes(g1.ann), items: ITEMS, trees: 4 };
  const v1 = registry.publish('swap', loaded);
  registry.acquire(v1);
  const v2 = registry.publish('swap', loaded);
  t.equal(v2.version, 2);
  t.same(registry.retained('swap'), [1, 2]);
  t.equal(Atomics.load(registry.versions, v1.slot), 2, 'workers see version 2 as current');
  registry.release(v1);
  t.same(registry.retained('swap'), [2]);
  t.same(released, [1]);
  registry.remove('swap');
  t.same(registry.retained('swap'), []);
  t.equal(Atomics.load(registry.versions, v1.slot), 0);
});

t.test('names that come and go reuse version-table slots: more names over time than the table has rows', async (t) => {
  const { IndexRegistry, MAX_INDEX_NAMES } = await import('../../src/service/registry/registry.js');
  const { storageFromBytes } = await import('../../src/annoy/index.js');
  const registry = new IndexRegistry();
  const g1 = generation(1);
  const loaded = { manifest: g1.manifest, ids: g1.ids, idTable: null, storage: storageFromBytes(g1.ann), items: ITEMS, trees: 4 };
  const generations = new Set<number>();
  for (let day = 0; day < MAX_INDEX_NAMES + 100; day++) {
    const entry = registry.publish(`products-${day}`, loaded);
    generations.add(entry.generation);
    if (day > 0) registry.remove(`products-${day - 1}`);
  }
  t.equal(generations.size, MAX_INDEX_NAMES + 100, 'every version has its own generation');

  // A removed name keeps its slot while a version of it still drains; the next name takes another.
  const draining = registry.publish('draining', loaded);
  registry.acquire(draining);
  registry.remove('draining');
  const next = registry.publish('next', loaded);
  t.not(next.slot, draining.slot, 'the draining slot is not handed out');
  registry.release(draining);
  const reused = registry.publish('reused', loaded);
  t.equal(reused.slot, draining.slot, 'the drained slot is handed out next');
  registry.remove('next');
  const later = registry.publish('later', loaded);
  t.ok(later.slot === draining.slot || later.slot === next.slot, 'freed once drained');
  t.equal(later.slot, next.slot, 'and a removed idle name frees its slot at once');
  t.equal(Atomics.load(registry.versions, later.slot), later.generation, 'the table holds the generation');
  t.equal(Atomics.load(registry.versions, reused.slot), reused.generation);
});

t.test('a slot passed from a removed name to a new one: each name answers with its own files, in the workers too', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'first', buildIndex('first', { metric: 'euclidean', dimensions: 8, items: ITEMS, trees: 4, seed: 101, ids: Array.from({ length: ITEMS }, (_, i) => `g1-${i}`) }));
  // inlineMaxWork 0: every query runs on a worker, whose cache is what a reused slot could confuse.
  const server = await serve(t, dir, { pollIntervalMs: 100, debounceMs: 30, workers: 1, inlineMaxWork: 0 });
  const ask = (name: string) => http(server.url, 'POST', `/v1/indexes/${name}/search`, { vector: [0, 0, 0, 0, 0, 0, 0, 0], n: 3 });
  t.equal(generationOf((await ask('first')).body.ids), 1);
  const slot = server.app.nn.registry.get('first')!.slot;
  rmSync(join(dir, 'first.ann'));
  await waitFor(async () => ((await ask('first')).status === 404 ? true : undefined));
  writeIndex(dir, 'second', buildIndex('second', { metric: 'euclidean', dimensions: 8, items: ITEMS, trees: 4, seed: 102, ids: Array.from({ length: ITEMS }, (_, i) => `g2-${i}`) }));
  await waitFor(async () => ((await ask('second')).status === 200 ? true : undefined));
  t.equal(server.app.nn.registry.get('second')!.slot, slot, 'the new name took the freed slot');
  const second = await ask('second');
  t.equal(second.body.version, 1);
  t.equal(generationOf(second.body.ids), 2, 'the new name answers from its own files');
  writeIndex(dir, 'first', buildIndex('first', { metric: 'euclidean', dimensions: 8, items: ITEMS, trees: 4, seed: 103, ids: Array.from({ length: ITEMS }, (_, i) => `g3-${i}`) }));
  await waitFor(async () => ((await ask('first')).status === 200 ? true : undefined));
  const first = await ask('first');
  t.equal(first.body.version, 2, 'a returning name goes on counting its versions');
  t.equal(generationOf(first.body.ids), 3, 'and answers from its new files, not a cached old version');
  t.equal(generationOf((await ask('second')).body.ids), 2);
});

t.test('an invalid index at start-up is rejected; the others are served and the service is ready', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'swap', generation(1));
  const bad = generation(2);
  writeIndex(dir, 'broken', { ...bad, ann: bad.ann.subarray(0, 1000) });
  const server = await serve(t, dir);
  t.equal((await http(server.url, 'GET', '/readyz')).status, 200);
  t.same(
    (await http(server.url, 'GET', '/v1/indexes')).body.indexes.map((i: { name: string }) => i.name),
    ['swap'],
  );
  t.equal((await http(server.url, 'GET', '/v1/indexes/broken')).status, 404);
  const scrape = (await http(server.url, 'GET', '/metrics')).text;
  t.equal(metric(scrape, 'nnserve_index_swaps_total', { index: 'broken', result: 'rejected' }), 1);
});

/**
 * An index whose every query at search_k 1,000,000 scores all 2,000 items: 4,096 of them keep one
 * worker busy for seconds. Generation `k` names its ids `g<k>-…`.
 */
function slowIndex(name: string, k: number) {
  return buildIndex(name, { metric: 'euclidean', dimensions: 16, items: 2000, trees: 10, seed: 50 + k, ids: Array.from({ length: 2000 }, (_, i) => `g${k}-${i}`) });
}

/** 4,096 query vectors of 16 dimensions. */
const slowQueries = (wave: (x: number) => number) => Array.from({ length: 4096 }, (_, i) => ({ vector: Array.from({ length: 16 }, (_, d) => wave(i + d)) }));

/**
 * One worker serving generation 1 of a slow index named `name`, and the means to publish
 * generation 2 over it.
 */
async function slowService(t: Test, name: string, deadlineMs: number) {
  const dir = tempDir(t);
  writeIndex(dir, name, slowIndex(name, 1));
  const server = await serve(t, dir, { workers: 1, maxBatch: 8192, deadlineMs, pollIntervalMs: 50, debounceMs: 20 });
  return { server, registry: server.app.nn.registry, publishSecond: () => writeIndex(dir, name, slowIndex(name, 2)) };
}

t.test('a request running during a swap finishes on its version; the old version is released after it', async (t) => {
  const { server, registry, publishSecond } = await slowService(t, 'slow', 600_000);
  const queries = slowQueries(Math.sin);
  // Seconds of work on one worker (every query scores the whole index), against a swap that takes
  // tens of ms: the request is certain to be running when the new version is published.
  const started = Date.now();
  const slow = http(server.url, 'POST', '/v1/indexes/slow/search/batch', { queries, n: 20, search_k: 1_000_000, include_distances: false });
  await waitFor(() => (registry.get('slow')!.inflight > 0 ? true : undefined), 2000, 5);
  publishSecond();
  await waitFor(() => (registry.get('slow')!.version === 2 ? true : undefined), 2000, 5);
  const swappedAt = Date.now();
  const overlapped = registry.retained('slow').includes(1);
  const fresh = await http(server.url, 'POST', '/v1/indexes/slow/search', { vector: queries[0].vector, n: 3 });
  t.equal(fresh.body.version, 2, 'new requests use the new version');
  t.equal(generationOf(fresh.body.ids), 2);
  const r = await slow;
  t.comment(`slow request ${Date.now() - started} ms; swap published ${swappedAt - started} ms after it started`);
  t.equal(r.status, 200);
  t.equal(r.body.version, 1, 'the running request names the version it started on');
  t.ok(
    r.body.results.every((x: { ids: string[] }) => generationOf(x.ids) === 1),
    'and all its answers come from that version',
  );
  t.ok(overlapped, 'version 1 was still held, after the swap, while its request ran');
  await waitFor(() => (registry.retained('slow').length === 1 ? true : undefined));
  t.same(registry.retained('slow'), [2], 'version 1 released once its request finished');
});

t.test('a request that timed out (504) still holds its version until its worker is done with it', async (t) => {
  const { server, registry, publishSecond } = await slowService(t, 'late', 150);
  // About a second and a half of work on the one worker, far past the 150 ms deadline.
  const queries = slowQueries(Math.cos);
  const late = await http(server.url, 'POST', '/v1/indexes/late/search/batch', { queries, n: 20, search_k: 1_000_000, include_distances: false });
  t.equal(late.status, 504, 'the caller got its 504');
  publishSecond();
  await waitFor(() => (registry.get('late')!.version === 2 ? true : undefined), 2000, 5);
  t.same(registry.retained('late'), [1, 2], 'version 1 is still held: the worker is still reading it');
  await waitFor(() => (registry.retained('late').length === 1 ? true : undefined));
  t.same(registry.retained('late'), [2], 'and released once the worker is done');
  const fresh = await http(server.url, 'POST', '/v1/indexes/late/search', { vector: queries[0].vector, n: 3 });
  t.equal(fresh.status, 200);
  t.equal(fresh.body.version, 2);
});
