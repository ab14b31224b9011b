import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { run } from '../../src/cli/commands/fetch.js';
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

t.test('ids file with the wrong number of lines is rejected', async (t) => {
  const { dir, before } = await installedV1(t, '/ids');
  const was = before();
  publisher.publish('/ids', 'idx', fakeAnn(5000, 16), { ids: ['a', 'b'], manifest: { items: 3 } });
  const io = capture();
  t.equal(await run([publisher.url('/ids/idx.json'), '--dir', dir], io.options), 1);
  t.match(io.err.join('\n'), /idx\.ids: 2 lines, but the manifest says 3 items/);
  t.equal(before(), was);
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

t.test('connection refused: exit 1', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nnserve-fetch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const io = capture();
  // Port 1 on loopback: nothing listens there and connecting needs no privileges.
  t.equal(await run(['http://127.0.0.1:1/x.json', '--dir', dir, '--timeout-ms', '2000'], io.options), 1);
  t.match(io.err.join('\n'), /127\.0\.0\.1:1\/x\.json: .*ECONNREFUSED/);
  t.same(readdirSync(dir), []);
});
