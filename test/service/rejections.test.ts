import { rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { publicReason } from '../../src/service/registry/public-reason.js';
import { serveLogged } from '../reliability/helpers.js';
import { buildIndex, http, metric, serve, tempDir, waitFor, writeIndex, writeTestFile } from './helpers.js';

// Someone debugging with curl after a bad delivery should learn from the API, not only from the
// server's log, that the new files were rejected and why.

t.test('the API says why files were rejected: beside the version still served, or in place of an index never served', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'words', buildIndex('words', { dimensions: 4, items: 40 }));
  const server = await serve(t, dir);
  t.notOk((await http(server.url, 'GET', '/v1/indexes/words')).body.lastRejection, 'nothing to report at first');

  // A broken replacement: the old version keeps serving, and says why the new one is not.
  const broken = buildIndex('words', { dimensions: 4, items: 40 });
  writeIndex(dir, 'words', { ...broken, ann: broken.ann.subarray(0, broken.ann.byteLength - 7) });
  const one = await waitFor(async () => {
    const r = await http(server.url, 'GET', '/v1/indexes/words');
    return r.body.lastRejection ? r : undefined;
  });
  t.equal(one.status, 200);
  t.equal(one.body.version, 1, 'still the first version');
  t.match(one.body.lastRejection.reason, /^words\.ann/, 'names the file');
  t.ok(Date.parse(one.body.lastRejection.at) > 0, 'and when');
  const listed = (await http(server.url, 'GET', '/v1/indexes')).body;
  t.same(listed.indexes.map((i: { name: string; lastRejection?: object }) => [i.name, Boolean(i.lastRejection)]), [['words', true]]);
  t.same(listed.rejected, [], 'words is served, so it is not among the never-served');
  const gauge = async (index: string) => metric((await http(server.url, 'GET', '/metrics')).text, 'nnserve_index_rejected', { index });
  t.equal(await gauge('words'), 1, 'the gauge an alert can watch');

  // Fixed: the report goes with the rejected files.
  writeIndex(dir, 'words', buildIndex('words', { dimensions: 4, items: 41 }));
  const fixed = await waitFor(async () => {
    const r = await http(server.url, 'GET', '/v1/indexes/words');
    return r.body.version === 2 ? r : undefined;
  });
  t.notOk(fixed.body.lastRejection, 'a good load clears it');
  t.equal(await gauge('words'), undefined, 'and the gauge');

  // Never served: an ids file that cannot be opened (a symlink loop; the fs error carries the path).
  const bad = buildIndex('loop', { dimensions: 4, items: 3, ids: ['a', 'b', 'c'] });
  writeTestFile(join(dir, 'loop.ann'), bad.ann);
  symlinkSync('loop.ids', join(dir, 'loop.ids'));
  writeTestFile(join(dir, 'loop.json'), JSON.stringify(bad.manifest));
  const rejected = await waitFor(async () => {
    const r = (await http(server.url, 'GET', '/v1/indexes')).body;
    return r.rejected.length > 0 ? r.rejected : undefined;
  });
  t.equal(rejected.length, 1);
  t.equal(rejected[0].name, 'loop');
  t.match(rejected[0].reason, /loop\.ids/);
  t.notMatch(rejected[0].reason, dir, 'no server path in what callers see');
  const notFound = await http(server.url, 'GET', '/v1/indexes/loop/items/a');
  t.equal(notFound.status, 404);
  t.match(notFound.body.message, /^index "loop" not found; its files were rejected at .+: .*loop\.ids/, 'the 404 says why');
  t.notMatch(notFound.body.message, dir);
  t.equal(await gauge('loop'), 1, 'never served, rejected all the same');

  // Its files gone: nothing left to explain.
  for (const f of ['loop.json', 'loop.ann', 'loop.ids']) rmSync(join(dir, f));
  await waitFor(async () => ((await http(server.url, 'GET', '/v1/indexes')).body.rejected.length === 0 ? true : undefined));
  t.equal((await http(server.url, 'GET', '/v1/indexes/loop')).body.message, 'index "loop" not found');
  t.equal(await gauge('loop'), undefined);
});

t.test('reasons shown to callers keep file names and drop the directories around them', async (t) => {
  t.equal(publicReason("x.ids (named by x.json): ELOOP: too many symbolic links encountered, open '/srv/indexes/..data/x.ids'"), "x.ids (named by x.json): ELOOP: too many symbolic links encountered, open 'x.ids'");
  t.equal(publicReason('x.ann: child index 5/10 out of range at /tmp/a/b.ann'), 'x.ann: child index 5/10 out of range at b.ann');
  t.equal(publicReason('a'.repeat(600)).length, 501, 'bounded');
});

t.test('an admin reload says why it rejected files', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'words', buildIndex('words', { dimensions: 4, items: 40 }));
  const server = await serve(t, dir, { adminToken: 'tok', pollIntervalMs: 0 });
  const manifest = { ...buildIndex('words', { dimensions: 4, items: 40 }).manifest, dimensions: 5 };
  writeTestFile(join(dir, 'words.json'), JSON.stringify(manifest));
  const r = await http(server.url, 'POST', '/v1/admin/reload', undefined, { authorization: 'Bearer tok' });
  t.equal(r.status, 200);
  t.equal(r.body.results.length, 1);
  t.equal(r.body.results[0].result, 'rejected');
  t.match(r.body.results[0].reason, /^words\.ann \(euclidean, 5 dimensions/, 'names the file and what did not fit');
  t.equal((await http(server.url, 'GET', '/v1/indexes/words')).body.lastRejection.reason, r.body.results[0].reason);
});

t.test('NNSERVE_REQUIRE_INDEXES: not ready while a required index is rejected or missing, ready once it is served', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'words', buildIndex('words', { dimensions: 4, items: 40 }));
  const good = buildIndex('vecs', { dimensions: 4, items: 40 });
  writeIndex(dir, 'vecs', { ...good, ann: good.ann.subarray(0, 100) });
  const server = await serve(t, dir, { requiredIndexes: ['vecs', 'words', 'later'] });
  const notReady = await http(server.url, 'GET', '/readyz');
  t.equal(notReady.status, 503);
  t.equal(notReady.body.message, 'required indexes not served: vecs (rejected; GET /v1/indexes says why); later', 'names each, and where to read why');
  t.equal((await http(server.url, 'GET', '/v1/indexes/words')).status, 200, 'what is loaded is served meanwhile');

  writeIndex(dir, 'vecs', good);
  writeIndex(dir, 'later', buildIndex('later', { dimensions: 4, items: 40 }));
  const ready = await waitFor(async () => {
    const r = await http(server.url, 'GET', '/readyz');
    return r.status === 200 ? r : undefined;
  });
  t.same(ready.body, { status: 'ready', indexes: 3 });
});

t.test('NNSERVE_REQUIRE_INDEXES: a required index not served after the initial load is logged, with why', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'words', buildIndex('words', { dimensions: 4, items: 40 }));
  const vecs = buildIndex('vecs', { dimensions: 4, items: 40 });
  writeIndex(dir, 'vecs', { ...vecs, ann: vecs.ann.subarray(0, 100) });
  // "product" for "products": the pod never gets ready, and the log said only which indexes loaded.
  const { server, logs } = await serveLogged(t, dir, { requiredIndexes: ['words', 'vecs', 'product'] });
  t.equal((await http(server.url, 'GET', '/readyz')).status, 503);
  const lines = logs.find(/^required indexes not served/);
  t.equal(lines.length, 1, 'one line');
  t.equal(lines[0]?.level, 40, 'a warning');
  t.match(lines[0], {
    msg: 'required indexes not served (NNSERVE_REQUIRE_INDEXES): /readyz answers 503 until they are',
    missing: [{ index: 'vecs', rejected: /^vecs\.ann/ }, { index: 'product', rejected: null }],
  });

  const served = await serveLogged(t, dir, { requiredIndexes: ['words'] });
  t.equal((await http(served.server.url, 'GET', '/readyz')).status, 200);
  t.same(served.logs.find(/^required indexes not served/), [], 'nothing when every required index is served');
});

t.test('NNSERVE_REQUIRE_INDEXES takes index names only', async (t) => {
  const { loadConfig } = await import('../../src/service/config.js');
  t.same(loadConfig(['--require-indexes', 'a, b.v2']).requiredIndexes, ['a', 'b.v2']);
  t.throws(() => loadConfig([], { NNSERVE_REQUIRE_INDEXES: 'good,Bad/Name' }), /NNSERVE_REQUIRE_INDEXES: "Bad\/Name" is not an index name/);
});
