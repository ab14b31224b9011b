import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { writeFilesAtomic } from '../../src/index-files/write-atomic.js';
import { tempDir } from '../helpers/temp-dir.js';

t.test('writeFilesAtomic replaces every file and leaves no temporary file', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'x.json'), 'old manifest');
  writeFileSync(join(dir, 'x.ann'), 'old index');
  writeFilesAtomic([
    { path: join(dir, 'x.json'), data: 'new manifest' },
    { path: join(dir, 'x.ann'), data: new Uint8Array([1, 2, 3]) },
  ]);
  t.equal(readFileSync(join(dir, 'x.json'), 'utf8'), 'new manifest');
  t.same([...readFileSync(join(dir, 'x.ann'))], [1, 2, 3]);
  t.same(readdirSync(dir).sort(), ['x.ann', 'x.json']);
});

t.test('writeFilesAtomic replaces nothing when one file cannot be written', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'x.json'), 'old manifest');
  mkdirSync(join(dir, 'sub'));
  // The second file's directory does not exist: the new manifest must not land beside the old index.
  t.throws(() =>
    writeFilesAtomic([
      { path: join(dir, 'x.json'), data: 'new manifest' },
      { path: join(dir, 'missing', 'x.ann'), data: 'new index' },
    ]),
  );
  t.equal(readFileSync(join(dir, 'x.json'), 'utf8'), 'old manifest');
  t.same(readdirSync(dir).sort(), ['sub', 'x.json'], 'temporary files removed');
});
