import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { storageBytes } from '../../src/annoy/storage.js';
import { IndexFileChangedError, readIndexFile, readIndexFileInto } from '../../src/index-files/read-storage.js';
import { fixturesDir } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/temp-dir.js';

const FIXTURE = join(fixturesDir, 'euclidean-f40-s1', 'index.ann');

t.test('readIndexFile gives the file byte for byte, in shared WebAssembly memory or a plain buffer', async (t) => {
  const want = readFileSync(FIXTURE);
  for (const options of [{ shared: true }, { shared: false }, { shared: true, wasm: false }]) {
    const storage = readIndexFile(FIXTURE, options);
    t.equal(storage.byteLength, want.length, JSON.stringify(options));
    t.ok(Buffer.from(storageBytes(storage, 0, storage.byteLength)).equals(want), `same bytes ${JSON.stringify(options)}`);
  }
});

t.test('readIndexFileInto overwrites storage of the same size and refuses any other size', async (t) => {
  const dir = tempDir(t);
  const original = readFileSync(FIXTURE);
  const storage = readIndexFile(FIXTURE);
  const changed = Buffer.from(original);
  for (let i = 0; i < changed.length; i += 7) changed[i] ^= 0xff;
  const path = join(dir, 'changed.ann');
  writeFileSync(path, changed);
  readIndexFileInto(path, storage);
  t.ok(Buffer.from(storageBytes(storage, 0, storage.byteLength)).equals(changed), 'storage now holds the other file');

  writeFileSync(path, changed.subarray(0, changed.length - 16));
  t.throws(() => readIndexFileInto(path, storage), IndexFileChangedError);
});
