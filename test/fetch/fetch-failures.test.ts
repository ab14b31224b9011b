import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { run } from '../../src/cli/commands/fetch.js';
import { idsSha256 } from '../../src/index-files/manifest.js';
import { runCli } from '../cli/run-cli.js';
import { capture, fakeAnn, Publisher, sha256 } from './publisher.js';

const publisher = new Publisher();
t.before(() => publisher.start());
t.teardown(() => publisher.stop());

/** A directory already holding version 1 of `idx`, as the server would be serving it. */
async function installedV1(t: Test, prefix: string): Promise<{ dir: string; v1: Buffer; before: () => string }> {
  const dir = mkdtempSync(join(tmpdir(), 'nnserve-fetch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const v1 = fakeAnn(5000, 10);
  publisher.publish(prefix, 'idx', v1);
  const io = capture();
  t.equal(await run([publisher.url(`${prefix}/idx.json`), '--dir', dir], io.options), 0, io.err.join('\n'));
  const snapshot = () =>
    readdirSync(dir)
      .sort()
      .map((f) => {
        const s = statSync(join(dir, f));
        return `${f}:${s.ino}:${s.size}:${s.mtimeMs}`;
      })
      .join(' ');
  return { dir, v1, before: snapshot };
}

t.test('checksum mismatch: exit 1, old files untouched, no temp file left', async (t) => {
  const { dir, v1, before } = await installedV1(t, '/sum');
  const was = before();
  const v2 = fakeAnn(5000, 11);
  publisher.publish('/sum', 'idx', v2, { manifest: { sha256: sha256(fakeAnn(5000, 12)) } });
  const io = capture();
  t.equal(await run([publisher.url('/sum/idx.json'), '--dir', dir], io.options), 1);
  t.match(io.err.join('\n'), /idx\.ann: sha256 [0-9a-f]{64} does not match the manifest's/);
  t.equal(before(), was, 'same files, same inodes, same mtimes');
  t.same(readFileSync(join(dir, 'idx.ann')), v1);
});

t.test('an ids file that is not the one the manifest\'s idsSha256 names: exit 1, old files untouched', async (t) => {
  const { dir, before } = await installedV1(t, '/idsum');
  const was = before();
  const ids = Array.from({ length: 10 }, (_, i) => `v2-${i}`);
  // The ids of another version (as many lines): the server would refuse them, but only after the
  // fetch had installed them over the served files.
  publisher.publish('/idsum', 'idx', fakeAnn(5000, 14), { ids, manifest: { idsSha256: idsSha256(ids.map((id) => id.replace('v2', 'v1'))) } });
  const io = capture();
  t.equal(await run([publisher.url('/idsum/idx.json'), '--dir', dir], io.options), 1);
  t.match(io.err.join('\n'), /idsum\/idx\.ids does not match the manifest idsSha256 \(the ids file of another version\?\)/);
  t.equal(before(), was, 'same files, same inodes, same mtimes');
  t.same(readdirSync(dir).filter((f) => f.startsWith('.')), [], 'no temp file left');

  publisher.publish('/idsum', 'idx', fakeAnn(5000, 14), { ids, manifest: { idsSha256: idsSha256(ids) } });
  t.equal(await run([publisher.url('/idsum/idx.json'), '--dir', dir], capture().options), 0, 'the matching ids are installed');
});

t.test('size mismatch against the manifest: exit 1, old files untouched', async (t) => {
  const { dir, before } = await installedV1(t, '/size');
  const was = before();
  publisher.publish('/size', 'idx', fakeAnn(5000, 13), { manifest: { bytes: 4999 } });
  const io = capture();
  t.equal(await run([publisher.url('/size/idx.json'), '--dir', dir], io.options), 1);
  t.match(io.err.join('\n'), /5000 bytes, but the manifest says 4999/);
  t.equal(before(), was);
});

t.test('404 on the manifest and on the data file: exit 1 naming the URL', async (t) => {
  const { dir, before } = await installedV1(t, '/gone');
  const was = before();
  const io = capture();
  t.equal(await run([publisher.url('/gone/missing.json'), '--dir', dir], io.options), 1);
  t.match(io.err.join('\n'), /missing\.json: HTTP 404/);

  publisher.publish('/gone', 'idx', fakeAnn(5000, 14));
  publisher.files.delete('/gone/idx.ann');
  const io2 = capture();
  t.equal(await run([publisher.url('/gone/idx.json'), '--dir', dir], io2.options), 1);
  t.match(io2.err.join('\n'), /idx\.ann: HTTP 404/);
  t.equal(before(), was);
});

t.test('truncated body (connection closed early): exit 1, old files untouched', async (t) => {
  const { dir, before } = await installedV1(t, '/cut');
  const was = before();
  const v2 = fakeAnn(200_000, 15);
  publisher.publish('/cut', 'idx', v2, { manifest: { bytes: undefined, sha256: undefined } });
  publisher.files.get('/cut/idx.ann')!.truncateAt = 70_000;
  const io = capture();
  t.equal(await run([publisher.url('/cut/idx.json'), '--dir', dir], io.options), 1);
  t.match(io.err.join('\n'), /idx\.ann: (download failed after \d+ bytes|body truncated)/);
  t.equal(before(), was);
});

/** Fake bytes shaped like a euclidean f=4 index (32-byte nodes) whose last node, a root copy, says `items`. */
function shapedAnn(nodes: number, items: number, seed: number): Buffer {
  const ann = fakeAnn(nodes * 32, seed);
  ann.writeInt32LE(items, ann.length - 32);
  return ann;
}

t.test('without bytes or sha256, a download cut short is not installed', async (t) => {
  const { dir, before } = await installedV1(t, '/unverified');
  const was = before();
  const unverified = { bytes: undefined, sha256: undefined };
  // The publisher sends the cut file whole, as a server that closes a body without a Content-Length would be heard.
  publisher.publish('/unverified', 'idx', shapedAnn(100, 10, 17).subarray(0, 1000), { manifest: unverified });
  const io = capture();
  t.equal(await run([publisher.url('/unverified/idx.json'), '--dir', dir], io.options), 1);
  t.match(io.err.join('\n'), /idx\.ann: 1000 bytes is not a whole number of the 32-byte nodes of a euclidean index with 4 dimensions: a truncated download\?/);
  t.equal(before(), was, 'cut at any byte: old files untouched');

  publisher.publish('/unverified', 'idx', shapedAnn(100, 10, 17).subarray(0, 32 * 60), { manifest: unverified });
  const io2 = capture();
  t.equal(await run([publisher.url('/unverified/idx.json'), '--dir', dir], io2.options), 1);
  t.match(io2.err.join('\n'), /idx\.ann: its last node says -?\d+ items where the manifest says 10/);
  t.equal(before(), was, 'cut at a node boundary: old files untouched');

  const whole = shapedAnn(100, 10, 17);
  publisher.publish('/unverified', 'idx', whole, { manifest: unverified });
  const io3 = capture();
  t.equal(await run([publisher.url('/unverified/idx.json'), '--dir', dir], io3.options), 0, io3.err.join('\n'));
  t.same(readFileSync(join(dir, 'idx.ann')), whole, 'a whole file is installed');
});

t.test('ids file with the wrong number of lines is rejected', async (t) => {
  const { dir, before } = await installedV1(t, '/ids');
  const was = before();
  publisher.publish('/ids', 'idx', fakeAnn(5000, 16), { ids: ['a', 'b'], manifest: { items: 3 } });
  const io = capture();
  t.equal(await run([publisher.url('/ids/idx.json'), '--dir', dir], io.options), 1);
  t.match(io.err.join('\n'), /idx\.ids: 2 lines, but the manifest says 3 items/);
  t.equal(before(), was);
});

t.test('a body longer than the manifest says is cut off at once, not written to the end (an endless body filled the disk)', async (t) => {
  const { dir, before } = await installedV1(t, '/endless');
  const was = before();
  const upTo = 64 * 1024 * 1024;
  const ids = ['a', 'b', 'c'];
  for (const [file, message] of [
    ['idx.ann', /endless\/idx\.ann: \d+ bytes, but the manifest says 5000 \(download stopped there\)/],
    ['idx.ids', /endless\/idx\.ids: more than 3 lines, but the manifest says 3 items \(download stopped there\)/],
  ] as const) {
    publisher.publish('/endless', 'idx', fakeAnn(5000, 18), { ids });
    const published = publisher.files.get(`/endless/${file}`)!;
    if (file === 'idx.ids') published.body = Buffer.from(ids.join('\n').repeat(2000) + '\n');
    published.endlessUpTo = upTo;
    const io = capture();
    t.equal(await run([publisher.url('/endless/idx.json'), '--dir', dir], io.options), 1, file);
    t.match(io.err.join('\n'), message, `${file}: says why`);
    // What the socket buffers took before the hang-up, not the 64 MiB the publisher would send.
    t.ok(publisher.sent.get(`/endless/${file}`)! < 16 * 1024 * 1024, `${file}: ${publisher.sent.get(`/endless/${file}`)} bytes sent`);
    t.equal(before(), was, `${file}: old files untouched`);
    t.same(readdirSync(dir).filter((f) => f.startsWith('.')), [], `${file}: no temp file left`);
  }
});

t.test('invalid manifest: exit 1 with the field at fault', async (t) => {
  const { dir, before } = await installedV1(t, '/bad');
  const was = before();
  publisher.files.set('/bad/idx.json', { body: Buffer.from('{"metric":"cosine","dimensions":4}') });
  const io = capture();
  t.equal(await run([publisher.url('/bad/idx.json'), '--dir', dir], io.options), 1);
  t.match(io.err.join('\n'), /"metric" must be one of/);
  publisher.files.set('/bad/idx.json', { body: Buffer.from('{"metric":') });
  const io2 = capture();
  t.equal(await run([publisher.url('/bad/idx.json'), '--dir', dir], io2.options), 1);
  t.match(io2.err.join('\n'), /not valid JSON/);
  t.equal(before(), was);
});

t.test('more redirects than are followed: exit 1 saying so, not a bare status', async (t) => {
  const { dir, before } = await installedV1(t, '/hops');
  const was = before();
  publisher.publish('/hops', 'idx', fakeAnn(5000, 18));
  for (let hop = 0; hop < 6; hop++) publisher.files.set(`/hops/${hop}.json`, { body: Buffer.alloc(0), redirectTo: hop === 5 ? '/hops/idx.json' : `/hops/${hop + 1}.json` });
  const io = capture();
  t.equal(await run([publisher.url('/hops/0.json'), '--dir', dir, '--name', 'idx'], io.options), 1);
  t.match(io.err.join('\n'), /0\.json: HTTP 302 \(a redirect not followed: more than 5 in a row, or no Location header\)/);
  t.equal(before(), was);
});

t.test('connection refused: exit 1', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nnserve-fetch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const io = capture();
  // Port 1 on loopback: nothing listens there and connecting needs no privileges.
  t.equal(await run(['http://127.0.0.1:1/x.json', '--dir', dir, '--timeout-ms', '2000'], io.options), 1);
  t.match(io.err.join('\n'), /127\.0\.0\.1:1\/x\.json: .*ECONNREFUSED/);
  t.same(readdirSync(dir), []);
});

t.test('a --dir that is a file, or lies under one, is named as such', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nnserve-fetch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'vectors.npy');
  writeFileSync(file, 'not a directory');
  // They said "EEXIST: file already exists, mkdir '…'" and "ENOTDIR: not a directory, mkdir '…'".
  for (const target of [file, join(file, 'indexes')]) {
    const r = runCli(['fetch', 'http://127.0.0.1:1/x.json', '--dir', target]);
    t.equal(r.code, 1);
    t.equal(r.stderr, `nnserve fetch: cannot use --dir ${target}: ${file} is not a directory\n`);
  }
});
