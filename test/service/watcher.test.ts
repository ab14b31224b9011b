import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import pino from 'pino';
import { isTransientLoadFailure } from '../../src/service/registry/load-failure.js';
import { IndexLoadError, loadIndexInWorker, type LoadedIndex } from '../../src/service/registry/loader.js';
import { LOAD_MARGIN_BYTES } from '../../src/service/registry/memory-headroom.js';
import { IndexRegistry } from '../../src/service/registry/registry.js';
import { IndexWatcher } from '../../src/service/registry/watcher.js';
import { startServer } from '../../src/service/server.js';
import { serveLogged } from '../reliability/helpers.js';
import { buildIndex, http, metric, tempDir, testConfig, waitFor, writeIndex } from './helpers.js';

t.test('admin reloads asked for at once run one after another, never two loads together', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'words', buildIndex('words', { dimensions: 4, items: 40 }));
  let running = 0;
  let most = 0;
  let loads = 0;
  const load = async (d: string, name: string): Promise<LoadedIndex> => {
    running++;
    most = Math.max(most, running);
    try {
      await sleep(60);
      return await loadIndexInWorker({ dir: d, name });
    } finally {
      running--;
      loads++;
    }
  };
  const registry = new IndexRegistry();
  const watcher = new IndexWatcher(registry, { dir, pollIntervalMs: 0, debounceMs: 0, log: pino({ level: 'silent' }), load });
  t.teardown(() => watcher.stop());
  await watcher.start();
  t.equal(registry.get('words')?.version, 1);

  const outcomes = await Promise.all([watcher.reloadAll(), watcher.reloadAll(), watcher.reloadAll()]);
  t.equal(most, 1, 'one load at a time');
  t.equal(loads, 4, 'each reload loaded the index once');
  t.same(outcomes.map((o) => o.map((x) => x.result)), [['loaded'], ['loaded'], ['loaded']]);
  t.equal(registry.get('words')?.version, 4, 'one version per load');
  await watcher.idle();
  t.equal(running, 0, 'idle() waits for the last load');
});

/** A load that never finishes, as a read on a hung network mount; records the signal it was given. */
function hungLoad(signals: AbortSignal[], otherwise: (dir: string, name: string) => Promise<LoadedIndex>, hungName = 'stuck') {
  return (dir: string, name: string, signal: AbortSignal): Promise<LoadedIndex> => {
    if (name !== hungName) return otherwise(dir, name);
    signals.push(signal);
    return new Promise<LoadedIndex>(() => undefined);
  };
}

t.test('a load that outlives the load timeout is abandoned: rejected, the other indexes load, the same files are not tried again', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'stuck', buildIndex('stuck', { dimensions: 4, items: 40 }));
  writeIndex(dir, 'words', buildIndex('words', { dimensions: 4, items: 40 }));
  const signals: AbortSignal[] = [];
  const registry = new IndexRegistry();
  const watcher = new IndexWatcher(registry, {
    dir, pollIntervalMs: 0, debounceMs: 0, loadTimeoutMs: 2000, log: pino({ level: 'silent' }),
    load: hungLoad(signals, (d, name) => loadIndexInWorker({ dir: d, name })),
  });
  t.teardown(() => watcher.stop());
  const started = Date.now();
  const outcomes = await watcher.start();
  t.ok(Date.now() - started < 15_000, 'start-up is not held up for good');
  t.same(outcomes.map((o) => [o.index, o.result]), [['stuck', 'rejected'], ['words', 'loaded']]);
  t.equal(signals.length, 1);
  t.equal(signals[0].aborted, true, 'the load was told to stop');
  t.match((signals[0].reason as Error).message, /loading took longer than 2000 ms \(NNSERVE_LOAD_TIMEOUT_MS\) and was abandoned/);
  t.equal(registry.get('stuck'), undefined);

  // An unforced scan, as the poll makes: the same files are not tried again.
  writeIndex(dir, 'words', buildIndex('words', { dimensions: 4, items: 41 }));
  await waitForVersion(registry, 'words', 2);
  t.equal(signals.length, 1, 'the stuck files were not tried again');
});

t.test('the service: NNSERVE_LOAD_TIMEOUT_MS rejects a hung load, and the service becomes ready with the rest', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'stuck', buildIndex('stuck', { dimensions: 4, items: 40 }));
  writeIndex(dir, 'words', buildIndex('words', { dimensions: 4, items: 40 }));
  const signals: AbortSignal[] = [];
  const server = await startServer({ config: testConfig(dir, { loadTimeoutMs: 2000 }), load: hungLoad(signals, (d, name) => loadIndexInWorker({ dir: d, name })) });
  t.teardown(() => server.shutdown('test over'));
  await server.app.nn.initialLoad;
  t.equal((await http(server.url, 'GET', '/readyz')).status, 200);
  t.same((await http(server.url, 'GET', '/v1/indexes')).body.indexes.map((i: { name: string }) => i.name), ['words']);
  t.equal(metric((await http(server.url, 'GET', '/metrics')).text, 'nnserve_index_swaps_total', { index: 'stuck', result: 'rejected' }), 1);
  t.equal(signals[0]?.aborted, true);
});

t.test('stopping the watcher abandons the load in progress: shutdown does not wait for it', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'stuck', buildIndex('stuck', { dimensions: 4, items: 40 }));
  const signals: AbortSignal[] = [];
  const watcher = new IndexWatcher(new IndexRegistry(), {
    dir, pollIntervalMs: 0, debounceMs: 0, log: pino({ level: 'silent' }),
    load: hungLoad(signals, () => Promise.reject(new Error('not used'))),
  });
  const loading = watcher.start();
  while (signals.length === 0) await sleep(5);
  watcher.stop();
  t.same(await loading, [], 'no outcome for an abandoned load');
  await watcher.idle();
  t.equal(signals[0].aborted, true);
  t.match((signals[0].reason as Error).message, /shutting down/);
});

t.test('an abandoned load rejects at once with the reason it was abandoned for', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'words', buildIndex('words', { dimensions: 4, items: 40 }));
  const controller = new AbortController();
  const loading = loadIndexInWorker({ dir, name: 'words' }, controller.signal);
  controller.abort(new Error('abandoned'));
  await t.rejects(loading, { message: 'abandoned' });
});

async function waitForVersion(registry: IndexRegistry, name: string, version: number): Promise<void> {
  for (let i = 0; i < 400 && registry.get(name)?.version !== version; i++) await sleep(25);
  if (registry.get(name)?.version !== version) throw new Error(`${name} never reached version ${version}`);
}

t.test('passing failures: real out-of-memory and descriptor errors count as transient, bad files do not', async (t) => {
  let oom: unknown;
  try {
    new SharedArrayBuffer(2 ** 48); // beyond x86-64 user address space, whatever the overcommit setting
  } catch (err) {
    oom = err;
  }
  t.ok(oom instanceof RangeError, 'a 256 TiB buffer cannot be had');
  t.ok(isTransientLoadFailure(oom), 'allocation failure');
  t.ok(isTransientLoadFailure(new Error('x.ann: no room', { cause: oom })), 'wrapped, as the loader names the file');
  t.ok(isTransientLoadFailure(Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' })));
  t.notOk(isTransientLoadFailure(new Error('x.ann: child index 99 out of range')), 'a broken file');
  t.notOk(isTransientLoadFailure(Object.assign(new Error('ENOENT'), { code: 'ENOENT' })), 'a missing file');
  t.notOk(isTransientLoadFailure(new RangeError('offset is out of bounds')), 'a RangeError about the data');
});

t.test('a load that fails for a passing reason is tried again, later and less often, until it succeeds; a bad file is not', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'words', buildIndex('words', { dimensions: 4, items: 40 }));
  writeIndex(dir, 'broken', buildIndex('broken', { dimensions: 4, items: 40 }));
  const tries: Record<string, number[]> = { words: [], broken: [] };
  const load = (d: string, name: string): Promise<LoadedIndex> => {
    tries[name].push(Date.now());
    if (name === 'broken') return Promise.reject(new IndexLoadError('broken.ann: child index out of range'));
    if (tries.words.length <= 3) return Promise.reject(new IndexLoadError('words.ann: Array buffer allocation failed', true));
    return loadIndexInWorker({ dir: d, name });
  };
  const registry = new IndexRegistry();
  const watcher = new IndexWatcher(registry, { dir, pollIntervalMs: 50, debounceMs: 0, retryFirstMs: 200, log: pino({ level: 'silent' }), load });
  t.teardown(() => watcher.stop());
  const outcomes = await watcher.start();
  t.same(outcomes.map((o) => [o.index, o.result]), [['broken', 'rejected'], ['words', 'rejected']]);
  await waitForVersion(registry, 'words', 1);
  t.equal(tries.words.length, 4, 'three passing failures, then loaded');
  const gaps = tries.words.slice(1).map((at, i) => at - tries.words[i]);
  t.ok(gaps[0] >= 190 && gaps[1] >= 390 && gaps[2] >= 790, `waits double: ${gaps.join(', ')} ms`);
  await sleep(1000);
  t.equal(tries.words.length, 4, 'not loaded again once served');
  t.equal(tries.broken.length, 1, 'a file rejected for its content waits until it changes');
});

t.test('a retry scheduled minutes ahead does not hold up changes to other indexes (polling off)', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'words', buildIndex('words', { dimensions: 4, items: 40 }));
  const load = (d: string, name: string): Promise<LoadedIndex> =>
    name === 'words' ? Promise.reject(new IndexLoadError('words.ann: Array buffer allocation failed', true)) : loadIndexInWorker({ dir: d, name });
  const registry = new IndexRegistry();
  const watcher = new IndexWatcher(registry, { dir, pollIntervalMs: 0, debounceMs: 50, retryFirstMs: 600_000, log: pino({ level: 'silent' }), load });
  t.teardown(() => watcher.stop());
  await watcher.start();
  writeIndex(dir, 'other', buildIndex('other', { dimensions: 4, items: 40 }));
  await waitForVersion(registry, 'other', 1);
  t.pass('the new index was loaded on its fs.watch event, not after the retry');
});

t.test('a file that would not fit in the memory limit is not read (the kernel would kill the process); it loads once there is room', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'words', buildIndex('words', { dimensions: 4, items: 40 }));
  const bytes = buildIndex('big', { dimensions: 64, items: 400 }).ann.byteLength;
  writeIndex(dir, 'big', buildIndex('big', { dimensions: 64, items: 400 }));
  const rss = 300 * 1024 ** 2;
  let limit = rss + LOAD_MARGIN_BYTES + bytes - 1; // one byte short
  let reads = 0;
  const load = (d: string, name: string): Promise<LoadedIndex> => {
    if (name === 'big') reads++;
    return loadIndexInWorker({ dir: d, name });
  };
  const registry = new IndexRegistry();
  const watcher = new IndexWatcher(registry, {
    dir, pollIntervalMs: 50, debounceMs: 0, retryFirstMs: 100, log: pino({ level: 'silent' }), load,
    memory: () => ({ limit, rss }),
  });
  t.teardown(() => watcher.stop());
  const outcomes = await watcher.start();
  t.same(outcomes.map((o) => [o.index, o.result]), [['big', 'rejected'], ['words', 'loaded']]);
  t.match(outcomes[0].reason, /^big\.ann needs .* and the memory limit .* leaves .*: not loaded, since that would get the process killed/);
  t.equal(reads, 0, 'the file was not read');
  t.match(registry.rejection('big')?.reason, /memory limit/, 'the API can say why');
  limit += 1;
  await waitForVersion(registry, 'big', 1);
  t.equal(reads, 1, 'read once there was room');
});

t.test('a forced reload of the files being served that would not fit beside them: reported, the index not marked rejected, nothing retried', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'words', buildIndex('words', { dimensions: 16, items: 400 }));
  const bytes = buildIndex('words', { dimensions: 16, items: 400 }).ann.byteLength;
  let rss = 100 * 1024 ** 2;
  const limit = rss + LOAD_MARGIN_BYTES + bytes; // room for one copy, not two
  let loads = 0;
  const load = (d: string, name: string): Promise<LoadedIndex> => {
    loads++;
    return loadIndexInWorker({ dir: d, name });
  };
  const registry = new IndexRegistry();
  let checks = 0;
  const memory = () => {
    checks++;
    return { limit, rss };
  };
  const watcher = new IndexWatcher(registry, { dir, pollIntervalMs: 50, debounceMs: 0, retryFirstMs: 50, log: pino({ level: 'silent' }), load, memory });
  t.teardown(() => watcher.stop());
  await watcher.start();
  t.equal(registry.get('words')?.version, 1);
  rss += bytes; // the served copy is resident now
  const [outcome] = await watcher.reloadAll();
  const checksAfterReload = checks;
  t.equal(outcome.result, 'rejected', 'the reload says it did not happen');
  t.match(outcome.reason, /memory limit/);
  t.equal(registry.rejection('words'), undefined, 'what is served is not marked rejected');
  await sleep(500);
  t.equal(checks, checksAfterReload, 'no retry of a reload nobody needs');
  t.equal(loads, 1, 'and the file was read once, at start-up');
  t.equal(registry.get('words')?.version, 1, 'still serving version 1');
});

t.test('stopping the watcher ends the start-up re-read\'s wait for files to settle: a shutdown does not wait out the debounce', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'words', buildIndex('words', { dimensions: 4, items: 40 }));
  let first = true;
  // The files change while the start-up load reads them, so the watcher waits for them to settle.
  const load = async (d: string, name: string): Promise<LoadedIndex> => {
    const loaded = await loadIndexInWorker({ dir: d, name });
    if (first) {
      first = false;
      writeIndex(dir, 'words', buildIndex('words', { dimensions: 4, items: 41 }));
    }
    return loaded;
  };
  const watcher = new IndexWatcher(new IndexRegistry(), { dir, pollIntervalMs: 0, debounceMs: 600_000, log: pino({ level: 'silent' }), load });
  const starting = watcher.start();
  while (first) await sleep(10);
  await sleep(100);
  const stopped = Date.now();
  watcher.stop();
  await starting;
  await watcher.idle();
  t.ok(Date.now() - stopped < 5000, `start-up and idle() end once stopped (${Date.now() - stopped} ms), not after the 10-minute debounce`);
});

t.test('polling off: an index directory deleted and made again is found again, and its later changes are noticed', async (t) => {
  const dir = tempDir(t);
  const ids = (g: number) => Array.from({ length: 40 }, (_, i) => `g${g}-${i}`);
  writeIndex(dir, 'words', buildIndex('words', { dimensions: 4, items: 40, ids: ids(1), seed: 1 }));
  const server = await startServer({ config: testConfig(dir, { pollIntervalMs: 0, debounceMs: 20 }) });
  t.teardown(() => server.shutdown('test over'));
  await server.app.nn.initialLoad;
  const served = async (version: number) => {
    const r = await http(server.url, 'GET', '/v1/indexes/words/items?limit=1');
    return r.status === 200 && r.body.version === version ? (r.body.ids as string[])[0] : undefined;
  };
  rmSync(dir, { recursive: true });
  await sleep(200);
  mkdirSync(dir);
  writeIndex(dir, 'words', buildIndex('words', { dimensions: 4, items: 40, ids: ids(2), seed: 2 }));
  // The fs.watch set at start-up watched the deleted directory: it never reported these files.
  t.equal(await waitFor(() => served(2), 200), 'g2-0', 'the files of the new directory are served');
  writeIndex(dir, 'words', buildIndex('words', { dimensions: 4, items: 40, ids: ids(3), seed: 3 }));
  t.equal(await waitFor(() => served(3), 200), 'g3-0', 'a change in the new directory is noticed without a poll');
});

t.test('polling off: an index directory missing at start-up is served once it appears', async (t) => {
  const parent = tempDir(t);
  const dir = join(parent, 'indexes');
  const server = await startServer({ config: testConfig(dir, { pollIntervalMs: 0, debounceMs: 20 }) });
  t.teardown(() => server.shutdown('test over'));
  await server.app.nn.initialLoad;
  mkdirSync(dir);
  writeIndex(dir, 'words', buildIndex('words', { dimensions: 4, items: 40 }));
  await waitFor(async () => ((await http(server.url, 'GET', '/v1/indexes/words')).status === 200 ? true : undefined), 200);
  t.pass('served');
});

t.test('the files of a rejected index that was never served are removed: the rejection is cleared, and the log says so', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'words', buildIndex('words', { dimensions: 4, items: 40 }));
  const broken = buildIndex('broken', { dimensions: 4, items: 40 });
  writeIndex(dir, 'broken', { ...broken, ann: broken.ann.subarray(0, broken.ann.byteLength - 100) });
  const { server, logs } = await serveLogged(t, dir, { pollIntervalMs: 50, debounceMs: 20 });
  const rejected = async () => metric((await http(server.url, 'GET', '/metrics')).text, 'nnserve_index_rejected', { index: 'broken' });
  t.equal(await rejected(), 1, 'rejected at start-up');
  for (const ext of ['ann', 'json']) rmSync(join(dir, `broken.${ext}`));
  await waitFor(async () => ((await rejected()) === undefined ? true : undefined), 200);
  t.equal(logs.find('files of a rejected index removed; its rejection is cleared', { index: 'broken' }).length, 1, 'one log line');
});
