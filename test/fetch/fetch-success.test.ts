import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { run } from '../../src/cli/commands/fetch.js';
import { tempDir as sharedTempDir, type Teardown } from '../helpers/temp-dir.js';
import { capture, fakeAnn, Publisher } from './publisher.js';

const publisher = new Publisher();
t.before(() => publisher.start());
t.teardown(() => publisher.stop());

const tempDir = (t: Teardown): string => sharedTempDir(t, 'nnserve-fetch-');

t.test('manifest URL: downloads .ann, ids and manifest, verified, no temp files left', async (t) => {
  const dir = tempDir(t);
  const ann = fakeAnn(70_000, 1);
  const ids = Array.from({ length: 10 }, (_, i) => `item-${i}`);
  publisher.publish('/pub', 'products', ann, { ids });
  const io = capture();
  const code = await run([publisher.url('/pub/products.json'), '--dir', dir], io.options);
  t.equal(code, 0, io.err.join('\n'));
  t.match(io.out[0], /products: updated \(sha256 [0-9a-f]{12}…, 70000 bytes; verified sha256\)/);
  t.same(readFileSync(join(dir, 'products.ann')), ann);
  t.equal(readFileSync(join(dir, 'products.ids'), 'utf8'), ids.join('\n') + '\n');
  t.equal(readFileSync(join(dir, 'products.json'), 'utf8'), publisher.files.get('/pub/products.json')!.body.toString(), 'manifest kept byte for byte');
  t.same(readdirSync(dir).sort(), ['products.ann', 'products.ids', 'products.json']);
});

t.test('a manifest published with a UTF-8 byte-order mark (as Windows tools save it) is read', async (t) => {
  const dir = tempDir(t);
  const ann = fakeAnn(4096, 3);
  publisher.publish('/bom', 'products', ann);
  const published = publisher.files.get('/bom/products.json')!;
  publisher.files.set('/bom/products.json', { ...published, body: Buffer.concat([Buffer.from('\uFEFF'), published.body]) });
  const io = capture();
  t.equal(await run([publisher.url('/bom/products.json'), '--dir', dir], io.options), 0, io.err.join('\n'));
  t.same(readFileSync(join(dir, 'products.ann')), ann);
});

t.test('base URL + --name, different local name: ids file renamed to match', async (t) => {
  const dir = tempDir(t);
  const ann = fakeAnn(4096, 2);
  publisher.publish('/base', 'catalog', ann, { ids: ['a', 'b', 'c'] });
  // The base form fetches <base>/<name>.json, so the remote and local names are the same here;
  // a different local name needs the manifest URL form.
  const io = capture();
  t.equal(await run([publisher.url('/base/'), '--dir', dir, '--name', 'catalog'], io.options), 0, io.err.join('\n'));
  t.same(readdirSync(dir).sort(), ['catalog.ann', 'catalog.ids', 'catalog.json']);

  const io2 = capture();
  t.equal(await run([publisher.url('/base/catalog.json'), '--dir', dir, '--name', 'shop'], io2.options), 0, io2.err.join('\n'));
  const manifest = JSON.parse(readFileSync(join(dir, 'shop.json'), 'utf8')) as Record<string, unknown>;
  t.equal(manifest.ids, 'shop.ids');
  t.equal(readFileSync(join(dir, 'shop.ids'), 'utf8'), 'a\nb\nc\n');
  t.same(readFileSync(join(dir, 'shop.ann')), ann);
});

t.test('a new published version replaces the files; a dropped ids file is removed', async (t) => {
  const dir = tempDir(t);
  publisher.publish('/v', 'movies', fakeAnn(2000, 3), { ids: ['x', 'y'] });
  t.equal(await run([publisher.url('/v/movies.json'), '--dir', dir], capture().options), 0);
  const v2 = fakeAnn(3000, 4);
  publisher.publish('/v', 'movies', v2);
  const io = capture();
  t.equal(await run([publisher.url('/v/movies.json'), '--dir', dir], io.options), 0, io.err.join('\n'));
  t.match(io.out[0], /movies: updated/);
  t.same(readFileSync(join(dir, 'movies.ann')), v2);
  t.equal(statSync(join(dir, 'movies.ids'), { throwIfNoEntry: false }), undefined);
  t.equal((JSON.parse(readFileSync(join(dir, 'movies.json'), 'utf8')) as { ids: unknown }).ids, null);
});

t.test('redirects are followed (signed URLs, mirrors)', async (t) => {
  const dir = tempDir(t);
  const ann = fakeAnn(3000, 5);
  publisher.publish('/real', 'moved', ann);
  publisher.files.set('/entry/moved.json', { body: Buffer.alloc(0), redirectTo: '/real/moved.json' });
  const io = capture();
  t.equal(await run([publisher.url('/entry/moved.json'), '--dir', dir], io.options), 1, 'data files are resolved beside the requested URL');
  publisher.files.set('/entry/moved.ann', { body: Buffer.alloc(0), redirectTo: publisher.url('/real/moved.ann') });
  const io2 = capture();
  t.equal(await run([publisher.url('/entry/moved.json'), '--dir', dir], io2.options), 0, io2.err.join('\n'));
  t.same(readFileSync(join(dir, 'moved.ann')), ann);
  t.equal(publisher.count('/entry/moved.ann', 302), 1);
});

t.test('usage errors exit 2, bad names and URLs exit 1 with a reason', async (t) => {
  const dir = tempDir(t);
  const saved = process.stderr.write;
  const written: string[] = [];
  process.stderr.write = ((chunk: string) => (written.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    t.equal(await run([publisher.url('/pub/products.json')]), 2, 'missing --dir');
    t.equal(await run([publisher.url('/pub/'), '--dir', dir]), 1, 'base URL without --name');
    t.equal(await run(['ftp://example/x.json', '--dir', dir]), 1, 'unsupported scheme');
    t.equal(await run([publisher.url('/pub/Bad Name.json'), '--dir', dir]), 1, 'name outside the index-name pattern');
  } finally {
    process.stderr.write = saved;
  }
  const text = written.join('');
  t.match(text, /--dir <dir> is required/);
  t.match(text, /pass --name/);
  t.match(text, /only http and https/);
  t.match(text, /must match/);
});
