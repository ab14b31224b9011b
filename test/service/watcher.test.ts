import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import pino from 'pino';
import { loadIndexInWorker, type LoadedIndex } from '../../src/service/registry/loader.js';
import { IndexRegistry } from '../../src/service/registry/registry.js';
import { IndexWatcher } from '../../src/service/registry/watcher.js';
import { buildIndex, tempDir, writeIndex } from './helpers.js';

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
