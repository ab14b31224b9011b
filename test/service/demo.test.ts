import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { DEMO, ensureDemoIndex } from '../../src/service/registry/demo.js';
import { buildIndex, tempDir, writeIndex } from './helpers.js';

t.test('the demo index is deterministic and complete', async (t) => {
  const a = tempDir(t);
  const b = join(tempDir(t), 'nested', 'indexes');
  t.equal(ensureDemoIndex(a), true);
  t.equal(ensureDemoIndex(b), true, 'creates a missing directory');
  for (const f of ['demo.ann', 'demo.json', 'demo.ids']) {
    t.ok(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), `${f} identical across runs`);
  }
  const manifest = JSON.parse(readFileSync(join(a, 'demo.json'), 'utf8'));
  t.match(manifest, { metric: 'angular', dimensions: 40, items: DEMO.items, trees: 10, ids: 'demo.ids', annoyVersion: '1.17' });
  t.type(manifest.description, 'string');
  const ids = readFileSync(join(a, 'demo.ids'), 'utf8').trimEnd().split('\n');
  t.equal(ids.length, 10_000);
  t.equal(ids[0], 'item-0');
  t.equal(ids[9999], 'item-9999');
  t.equal(ensureDemoIndex(a), false, 'not rebuilt when an index exists');
});

t.test('no demo when the directory already holds an index', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'mine', buildIndex('mine', { items: 10 }));
  writeFileSync(join(dir, 'notes.txt'), 'hello');
  t.equal(ensureDemoIndex(dir), false);
});
