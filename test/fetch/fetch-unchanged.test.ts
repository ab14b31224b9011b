import { spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { run } from '../../src/cli/commands/fetch.js';
import { idsSha256 } from '../../src/index-files/manifest.js';
import { tempDir as sharedTempDir, type Teardown } from '../helpers/temp-dir.js';
import { capture, fakeAnn, Publisher } from './publisher.js';

const publisher = new Publisher();
t.before(() => publisher.start());
t.teardown(() => publisher.stop());

const tempDir = (t: Teardown): string => sharedTempDir(t, 'nnserve-fetch-');

const identity = (path: string) => {
  const s = statSync(path);
  return `${s.ino}:${s.size}:${s.mtimeMs}`;
};

t.test('unchanged manifest with sha256: a new process downloads no data and rewrites nothing', async (t) => {
  const dir = tempDir(t);
  publisher.publish('/same', 'idx', fakeAnn(9000, 20), { ids: ['a', 'b', 'c'] });
  t.equal(await run([publisher.url('/same/idx.json'), '--dir', dir], capture().options), 0);
  const files = ['idx.ann', 'idx.json', 'idx.ids'].map((f) => join(dir, f));
  const before = files.map(identity);
  const io = capture();
  t.equal(await run([publisher.url('/same/idx.json'), '--dir', dir], io.options), 0, io.err.join('\n'));
  t.match(io.out[0], /idx: unchanged .*manifest and sha256 match the local copy/);
  t.same(files.map(identity), before);
  t.equal(publisher.count('/same/idx.ann'), 1, 'the .ann was downloaded once');
});

t.test('a locally damaged copy is repaired even though the manifest is unchanged', async (t) => {
  const dir = tempDir(t);
  const ann = fakeAnn(9000, 21);
  publisher.publish('/fix', 'idx', ann);
  t.equal(await run([publisher.url('/fix/idx.json'), '--dir', dir], capture().options), 0);
  const damaged = Buffer.from(ann);
  damaged[100] ^= 0xff;
  const { writeFileSync } = await import('node:fs');
  writeFileSync(join(dir, 'idx.ann'), damaged);
  const io = capture();
  t.equal(await run([publisher.url('/fix/idx.json'), '--dir', dir], io.options), 0, io.err.join('\n'));
  t.match(io.out[0], /idx: updated/);
  t.same(readFileSync(join(dir, 'idx.ann')), ann);
});

t.test('a local ids file edited since it was installed is repaired: the manifest is unchanged, its idsSha256 is not met', async (t) => {
  const dir = tempDir(t);
  const ids = ['a', 'b', 'c'];
  publisher.publish('/idsfix', 'idx', fakeAnn(9000, 23), { ids, manifest: { idsSha256: idsSha256(ids) } });
  t.equal(await run([publisher.url('/idsfix/idx.json'), '--dir', dir], capture().options), 0);
  writeFileSync(join(dir, 'idx.ids'), 'b\na\nc\n');
  const io = capture();
  t.equal(await run([publisher.url('/idsfix/idx.json'), '--dir', dir], io.options), 0, io.err.join('\n'));
  t.match(io.out[0], /idx: updated/, 'not "unchanged"');
  t.equal(readFileSync(join(dir, 'idx.ids'), 'utf8'), 'a\nb\nc\n', 'the published ids are back');
  const again = capture();
  t.equal(await run([publisher.url('/idsfix/idx.json'), '--dir', dir], again.options), 0);
  t.match(again.out[0], /idx: unchanged/, 'and a repaired copy is unchanged again');
});

t.test('without sha256, the same data downloaded again is not rewritten', async (t) => {
  const dir = tempDir(t);
  publisher.publish('/nosum', 'idx', fakeAnn(9000, 22), { manifest: { sha256: undefined } });
  t.equal(await run([publisher.url('/nosum/idx.json'), '--dir', dir], capture().options), 0);
  const before = identity(join(dir, 'idx.ann'));
  const io = capture();
  t.equal(await run([publisher.url('/nosum/idx.json'), '--dir', dir], io.options), 0, io.err.join('\n'));
  t.match(io.out[0], /idx: unchanged .*downloaded data identical/);
  t.equal(identity(join(dir, 'idx.ann')), before);
});

t.test('--interval: ETag answers 304, a new version is installed on a later pass, abort exits 0', async (t) => {
  const dir = tempDir(t);
  publisher.publish('/loop', 'idx', fakeAnn(4000, 23), { etags: true });
  const lines: string[] = [];
  const errors: string[] = [];
  const controller = new AbortController();
  let onLine: (() => void) | null = null;
  const nextLine = () => new Promise<void>((resolve) => (onLine = resolve));
  const record = (into: string[]) => (line: string) => {
    into.push(line);
    onLine?.();
  };
  let wait = nextLine();
  const running = run([publisher.url('/loop/idx.json'), '--dir', dir, '--interval', '1'], {
    signal: controller.signal,
    out: record(lines),
    err: record(errors),
  });
  await wait;
  t.match(lines[0], /idx: updated/);
  wait = nextLine();
  await wait;
  t.match(lines[1], /idx: unchanged .*not modified \(ETag\)/);
  t.equal(publisher.count('/loop/idx.json', 304), 1);

  const v2 = fakeAnn(4100, 24);
  publisher.publish('/loop', 'idx', v2, { etags: true });
  wait = nextLine();
  await wait;
  t.match(lines[2], /idx: updated/);
  t.same(readFileSync(join(dir, 'idx.ann')), v2);

  controller.abort();
  t.equal(await running, 0);
  t.same(errors, []);
});

t.test('--interval: a local .ann replaced behind the fetcher is repaired, though the manifest answers 304', async (t) => {
  const dir = tempDir(t);
  const ann = fakeAnn(4000, 26);
  publisher.publish('/swapped', 'idx', ann, { etags: true });
  const lines: string[] = [];
  const controller = new AbortController();
  let onLine: (() => void) | null = null;
  const nextLine = () => new Promise<void>((resolve) => (onLine = resolve));
  let wait = nextLine();
  const running = run([publisher.url('/swapped/idx.json'), '--dir', dir, '--interval', '1'], {
    signal: controller.signal,
    out: (line) => {
      lines.push(line);
      onLine?.();
    },
    err: (line) => lines.push(line),
  });
  await wait;
  t.match(lines[0], /idx: updated/);
  const { writeFileSync } = await import('node:fs');
  writeFileSync(join(dir, 'idx.ann'), fakeAnn(3000, 27));
  wait = nextLine();
  await wait;
  t.match(lines[1], /idx: updated/, 'not "unchanged (ETag)" over a file the fetcher did not install');
  t.same(readFileSync(join(dir, 'idx.ann')), ann);
  wait = nextLine();
  await wait;
  t.match(lines[2], /idx: unchanged .*not modified \(ETag\)/, 'the ETag shortcut is back once the copy is its own again');
  controller.abort();
  t.equal(await running, 0);
});

t.test('sidecar mode: SIGTERM makes the process exit 0', async (t) => {
  const dir = tempDir(t);
  publisher.publish('/sig', 'idx', fakeAnn(4000, 25));
  const command = fileURLToPath(new URL('../../src/cli/commands/fetch.js', import.meta.url));
  const script = `const { run } = await import(${JSON.stringify(command)}); process.exitCode = await run(process.argv.slice(1));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, '--', publisher.url('/sig/idx.json'), '--dir', dir, '--interval', '60'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  await new Promise<void>((resolve) =>
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      if (stdout.includes('\n')) resolve();
    }),
  );
  t.match(stdout, /idx: updated/);
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  t.equal(code, 0, stderr);
  t.match(stdout, /idx: stopping/);
});
