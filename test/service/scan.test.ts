import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { scanIndexDir } from '../../src/service/registry/scan.js';
import { buildIndex, http, serve, tempDir, writeIndex } from './helpers.js';

t.test('only regular files (or symlinks to them) count as an index', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'real', buildIndex('real', { dimensions: 4, items: 30 }));
  // A Kubernetes-style volume: the files are symlinks into a data directory.
  const data = join(dir, '..data-a');
  mkdirSync(data);
  writeIndex(data, 'linked', buildIndex('linked', { dimensions: 4, items: 30 }));
  symlinkSync(join(data, 'linked.ann'), join(dir, 'linked.ann'));
  symlinkSync(join(data, 'linked.json'), join(dir, 'linked.json'));
  // A FIFO would block the loader's read for ever.
  execFileSync('mkfifo', [join(dir, 'pipe.ann')]);
  writeIndex(dir, 'pipe-json', buildIndex('pipe-json', { dimensions: 4, items: 30 }));
  execFileSync('cp', [join(dir, 'pipe-json.json'), join(dir, 'pipe.json')]);
  symlinkSync(join(dir, 'nowhere.ann'), join(dir, 'dangling.ann'));
  execFileSync('cp', [join(dir, 'real.json'), join(dir, 'dangling.json')]);

  const scan = scanIndexDir(dir);
  t.same(scan.names, ['linked', 'pipe-json', 'real']);
  t.same(
    scan.ignored.map((x) => x.file).sort(),
    ['dangling.ann', 'pipe.ann'],
  );
  t.ok(scan.ignored.every((x) => /must be regular files/.test(x.reason)), 'the reason says why');
  // Both said only that much: the dangling link (a key a volume flip removed) read like the FIFO.
  t.same(
    Object.fromEntries(scan.ignored.map((x) => [x.file, x.reason.split(';')[0]])),
    { 'dangling.ann': 'dangling.ann is a symlink to a missing file', 'pipe.ann': 'pipe.ann is not a regular file' },
    'and which file is at fault, and how',
  );

  const server = await serve(t, dir);
  t.equal((await http(server.url, 'GET', '/readyz')).status, 200, 'the FIFO does not hold up start-up');
  t.same((await http(server.url, 'GET', '/v1/indexes')).body.indexes.map((i: { name: string }) => i.name), ['linked', 'pipe-json', 'real']);
});

t.test('a symlink loop in the directory is one index’s problem: the others still load and swap', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'real', buildIndex('real', { dimensions: 4, items: 30 }));
  // Before, stat threw ELOOP out of the scan, and no index at all was loaded or swapped.
  symlinkSync('loop.ann', join(dir, 'loop.ann'));
  writeIndex(dir, 'loop-json', buildIndex('loop-json', { dimensions: 4, items: 30 }));
  execFileSync('cp', [join(dir, 'loop-json.json'), join(dir, 'loop.json')]);
  symlinkSync('real-ids.ids', join(dir, 'real-ids.ids'));
  writeIndex(dir, 'real-ids', buildIndex('real-ids', { dimensions: 4, items: 30 }));

  const scan = scanIndexDir(dir);
  t.same(scan.names, ['loop-json', 'real', 'real-ids']);
  t.same(scan.ignored.map((x) => x.file), ['loop.ann']);
  const server = await serve(t, dir);
  t.same((await http(server.url, 'GET', '/v1/indexes')).body.indexes.map((i: { name: string }) => i.name), ['loop-json', 'real', 'real-ids']);
});
