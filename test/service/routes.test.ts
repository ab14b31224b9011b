import { renameSync, writeFileSync } from 'node:fs';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { request } from 'undici';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { AnnoyIndex, storageFromBytes } from '../../src/annoy/index.js';
import { serveLogged } from '../reliability/helpers.js';
import { buildIndex, http, metric, serve, tempDir, writeIndex, type Reply } from './helpers.js';

const dir = tempDir(t);
const wordIds = Array.from({ length: 200 }, (_, i) => (i === 199 ? 'slash/and space?&' : `w${i}`));
const words = buildIndex('words', { metric: 'euclidean', dimensions: 8, items: 200, seed: 7, ids: wordIds, description: 'test words' });
const ints = buildIndex('ints', { metric: 'angular', dimensions: 4, items: 50, seed: 3 });
writeIndex(dir, 'words', words);
writeIndex(dir, 'ints', ints);
const others = {
  ham: buildIndex('ham', { metric: 'hamming', dimensions: 16, items: 60, seed: 4 }),
  dotp: buildIndex('dotp', { metric: 'dot', dimensions: 6, items: 60, seed: 5 }),
  manh: buildIndex('manh', { metric: 'manhattan', dimensions: 5, items: 60, seed: 6 }),
};
for (const [name, built] of Object.entries(others)) writeIndex(dir, name, built);
writeFileSync(join(dir, 'Bad-Name.ann'), 'x');
writeFileSync(join(dir, 'Bad-Name.json'), '{}');

const engineWords = AnnoyIndex.open(storageFromBytes(words.ann), 'euclidean', 8);
const engineInts = AnnoyIndex.open(storageFromBytes(ints.ann), 'angular', 4);
const server = await serve(t, dir, { maxBatch: 64, bodyLimit: 16 * 1024 });
const base = server.url;

/** The server's kernels (WASM SIMD) may round the last bit differently from the JS kernels used here. */
function near(t: Test, actual: number[], expected: number[] | undefined, msg = 'distances'): void {
  t.equal(actual.length, expected!.length, `${msg}: length`);
  t.ok(actual.every((a, i) => Math.abs(a - expected![i]) <= 1e-5 * Math.max(1, Math.abs(expected![i]))), msg);
}

function noLeak(t: Test, reply: Reply, status: number): void {
  t.equal(reply.status, status, `status ${status}`);
  t.same(Object.keys(reply.body).sort(), ['error', 'message', 'statusCode'], 'error shape');
  t.equal(reply.body.statusCode, status);
  t.notMatch(reply.text, /\/tmp|\bat [\w.]+ \(|node:internal/, 'no path or stack in the body');
}

const vector = (n: number, v = 0.25) => Array.from({ length: n }, (_, i) => v + i / 10);

t.test('probes and docs', async (t) => {
  t.same((await http(base, 'GET', '/healthz')).body, { status: 'ok' });
  t.same((await http(base, 'GET', '/readyz')).body, { status: 'ready', indexes: 5 });
  const spec = await http(base, 'GET', '/openapi.json');
  t.equal(spec.status, 200);
  t.ok(spec.body.paths['/v1/indexes/{name}/search'], 'openapi lists the search route');
  const docs = await http(base, 'GET', '/docs/');
  t.ok(docs.status === 200 || docs.status === 302, 'swagger ui served');
  const metrics = await http(base, 'GET', '/metrics');
  t.equal(metrics.status, 200);
  t.match(metrics.headers['content-type'], /text\/plain/);
});

t.test('GET /v1/indexes lists valid indexes only', async (t) => {
  const r = await http(base, 'GET', '/v1/indexes');
  t.equal(r.status, 200);
  t.same(
    r.body.indexes.map((i: { name: string }) => i.name),
    ['dotp', 'ham', 'ints', 'manh', 'words'],
  );
  const w = r.body.indexes[4];
  t.match(w, { name: 'words', metric: 'euclidean', dimensions: 8, items: 200, trees: engineWords.getNTrees(), bytes: words.ann.byteLength, version: 1, description: 'test words' });
  t.ok(!Number.isNaN(Date.parse(w.loadedAt)));
  t.notOk('description' in r.body.indexes[2], 'no description when the manifest has none');
  t.match((await http(base, 'GET', '/v1/indexes/ints')).body, { name: 'ints', metric: 'angular', items: 50 });
  noLeak(t, await http(base, 'GET', '/v1/indexes/nope'), 404);
  noLeak(t, await http(base, 'GET', '/v1/indexes/Bad-Name'), 404);
});

t.test('neighbours of an item', async (t) => {
  const expected = engineWords.getNnsByItem(3, 5, -1, true);
  const r = await http(base, 'GET', '/v1/indexes/words/items/w3/neighbors?n=5');
  t.equal(r.status, 200);
  t.same(r.body, { index: 'words', version: 1, ids: expected.ids.map((i) => wordIds[i]), distances: r.body.distances });
  near(t, r.body.distances, expected.distances);
  const noDist = await http(base, 'GET', '/v1/indexes/words/items/w3/neighbors?n=5&include_distances=false');
  t.same(noDist.body, { index: 'words', version: 1, ids: expected.ids.map((i) => wordIds[i]) });
  const noSelf = await http(base, 'GET', '/v1/indexes/words/items/w3/neighbors?n=5&exclude_self=true&search_k=1000');
  t.equal(noSelf.body.ids.length, 5);
  t.notOk(noSelf.body.ids.includes('w3'));
  const wanted = engineWords.getNnsByItem(3, 6, 1000).ids.filter((i) => i !== 3).slice(0, 5);
  t.same(noSelf.body.ids, wanted.map((i) => wordIds[i]));

  const ir = await http(base, 'GET', '/v1/indexes/ints/items/7/neighbors?n=3');
  t.same(ir.body.ids, engineInts.getNnsByItem(7, 3).ids, 'integer ids without an ids file');
  t.equal(typeof ir.body.ids[0], 'number');

  const encoded = await http(base, 'GET', `/v1/indexes/words/items/${encodeURIComponent(wordIds[199])}/neighbors?n=1`);
  t.same(encoded.body.ids, [wordIds[199]], 'URL-encoded external id');
});

t.test('vector search, exclude', async (t) => {
  const q = vector(8);
  const expected = engineWords.getNnsByVector(q, 10, -1, true);
  const r = await http(base, 'POST', '/v1/indexes/words/search', { vector: q });
  t.equal(r.status, 200);
  t.same(r.body.ids, expected.ids.map((i) => wordIds[i]), 'default n = 10');
  near(t, r.body.distances, expected.distances);
  t.equal(r.body.version, 1);

  const exclude = [wordIds[expected.ids[0]], wordIds[expected.ids[2]], 'not-an-id'];
  const ex = await http(base, 'POST', '/v1/indexes/words/search', { vector: q, n: 5, exclude, include_distances: false, search_k: 5000 });
  const full = engineWords.getNnsByVector(q, 7, 5000).ids.filter((i) => i !== expected.ids[0] && i !== expected.ids[2]);
  t.same(ex.body.ids, full.slice(0, 5).map((i) => wordIds[i]), 'excluded ids dropped, still n results');
  t.notOk('distances' in ex.body);

  const ir = await http(base, 'POST', '/v1/indexes/ints/search', { vector: [1, 0, 0, 0], n: 4, exclude: [engineInts.getNnsByVector([1, 0, 0, 0], 1).ids[0]] });
  t.equal(ir.body.ids.length, 4);
  t.same(ir.body.ids, engineInts.getNnsByVector([1, 0, 0, 0], 5).ids.slice(1));
});

t.test('search from a stored item, with exclude', async (t) => {
  const item = 17;
  const plain = engineWords.getNnsByItem(item, 10, 4000, true);
  const r = await http(base, 'POST', '/v1/indexes/words/search', { item: wordIds[item], search_k: 4000 });
  t.equal(r.status, 200);
  t.same(r.body.ids, plain.ids.map((i) => wordIds[i]), 'get_nns_by_item: the item itself first');
  near(t, r.body.distances, plain.distances);

  // What a "more like this" widget does: leave out the item and what was already shown.
  const shown = [wordIds[item], wordIds[plain.ids[1]], wordIds[plain.ids[3]], 'not-an-id'];
  const ex = await http(base, 'POST', '/v1/indexes/words/search', { item: wordIds[item], n: 5, exclude: shown, search_k: 4000, include_distances: false });
  t.equal(ex.status, 200);
  const left = engineWords.getNnsByItem(item, 8, 4000).ids.filter((i) => i !== item && i !== plain.ids[1] && i !== plain.ids[3]);
  t.same(ex.body.ids, left.slice(0, 5).map((i) => wordIds[i]), 'excluded ids dropped, still n results');

  const ints = await http(base, 'POST', '/v1/indexes/ints/search', { item: 3, n: 3, exclude: [3] });
  t.same(ints.body.ids, engineInts.getNnsByItem(3, 4).ids.filter((i) => i !== 3).slice(0, 3), 'integer ids');

  noLeak(t, await http(base, 'POST', '/v1/indexes/words/search', { item: 'nope' }), 404);
  const both = await http(base, 'POST', '/v1/indexes/words/search', { item: wordIds[1], vector: vector(8) });
  noLeak(t, both, 400);
  t.match(both.body.message, /either "vector" or "item"/);
  const neither = await http(base, 'POST', '/v1/indexes/words/search', { n: 3 });
  noLeak(t, neither, 400);
  t.equal(neither.body.message, 'body must have either "vector" or "item"');
});

t.test('batch search', async (t) => {
  const queries = Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? { item: wordIds[i] } : { vector: vector(8, i / 7 - 3) }));
  const r = await http(base, 'POST', '/v1/indexes/words/search/batch', { queries, n: 4 });
  t.equal(r.status, 200);
  t.equal(r.body.index, 'words');
  t.equal(r.body.version, 1);
  t.equal(r.body.results.length, 40, 'split across workers, order kept');
  queries.forEach((q, i) => {
    const e = 'item' in q ? engineWords.getNnsByItem(i, 4, -1, true) : engineWords.getNnsByVector(q.vector, 4, -1, true);
    t.same(r.body.results[i].ids, e.ids.map((x) => wordIds[x]), `query ${i}`);
    near(t, r.body.results[i].distances, e.distances, `query ${i} distances`);
  });
  const ints2 = await http(base, 'POST', '/v1/indexes/ints/search/batch', { queries: [{ item: 5 }, { item: '6' }], n: 2, include_distances: false });
  t.same(ints2.body.results, [{ ids: engineInts.getNnsByItem(5, 2).ids }, { ids: engineInts.getNnsByItem(6, 2).ids }]);
  noLeak(t, await http(base, 'POST', '/v1/indexes/words/search/batch', { queries: [{ item: 'missing' }] }), 404);
  const missing = await http(base, 'POST', '/v1/indexes/words/search/batch', { queries: [{ item: 'w1' }, { vector: vector(8) }, { item: 'missing' }] });
  noLeak(t, missing, 404);
  t.equal(missing.body.message, 'queries[2].item "missing" not found in index "words"', 'the message says which query of the batch names an unknown item');
  noLeak(t, await http(base, 'POST', '/v1/indexes/words/search/batch', { queries: [{ vector: [1, 2] }] }), 400);
  const short = await http(base, 'POST', '/v1/indexes/words/search/batch', { queries: [{ item: 'w1' }, { vector: vector(8) }, { vector: [1, 2] }] });
  noLeak(t, short, 400);
  t.equal(short.body.message, 'queries[2].vector has 2 values, index expects 8', 'the message says which query of the batch is wrong');
  noLeak(t, await http(base, 'POST', '/v1/indexes/words/search/batch', { queries: [{ vector: vector(8), item: 'w1' }] }), 400);
  noLeak(t, await http(base, 'POST', '/v1/indexes/words/search/batch', { queries: Array.from({ length: 65 }, () => ({ item: 'w1' })) }), 400);
  noLeak(t, await http(base, 'POST', '/v1/indexes/words/search/batch', { queries: [] }), 400);
});

t.test('answers serialised with JSON.stringify carry exactly the documented fields', async (t) => {
  // The float-array routes skip fast-json-stringify (see nativeJson in routes/schemas.ts), which would
  // have dropped undocumented fields: the handlers must not produce any.
  const keys = (o: object) => Object.keys(o).sort();
  const single = ['distances', 'ids', 'index', 'version'];
  t.same(keys((await http(base, 'GET', '/v1/indexes/words/items/w3/neighbors?n=2')).body), single);
  t.same(keys((await http(base, 'GET', '/v1/indexes/words/items/w3/neighbors?n=2&include_distances=false')).body), ['ids', 'index', 'version']);
  t.same(keys((await http(base, 'POST', '/v1/indexes/words/search', { vector: vector(8), n: 2 })).body), single);
  for (const includeDistances of [true, false]) {
    const batch = (await http(base, 'POST', '/v1/indexes/words/search/batch', { queries: [{ item: 'w1' }, { vector: vector(8) }], n: 2, include_distances: includeDistances })).body;
    t.same(keys(batch), ['index', 'results', 'version']);
    for (const r of batch.results) t.same(keys(r), includeDistances ? ['distances', 'ids'] : ['ids']);
  }
  t.same(keys((await http(base, 'GET', '/v1/indexes/words/items/w3')).body), ['id', 'index', 'vector', 'version']);
});

t.test('item vectors and distances', async (t) => {
  const r = await http(base, 'GET', '/v1/indexes/words/items/w3');
  t.same(r.body, { index: 'words', version: 1, id: 'w3', vector: engineWords.getItemVector(3) });
  const enc = await http(base, 'GET', `/v1/indexes/words/items/${encodeURIComponent(wordIds[199])}`);
  t.equal(enc.body.id, wordIds[199]);
  t.same((await http(base, 'GET', '/v1/indexes/ints/items/4')).body.vector, engineInts.getItemVector(4));
  const d = await http(base, 'GET', '/v1/indexes/words/distance?a=w1&b=w2');
  t.match(d.body, { index: 'words', version: 1 });
  near(t, [d.body.distance], [engineWords.getDistance(1, 2)]);
  noLeak(t, await http(base, 'GET', '/v1/indexes/words/items/w999'), 404);
  noLeak(t, await http(base, 'GET', `/v1/indexes/words/items/${'x'.repeat(300)}`), 404);
  noLeak(t, await http(base, 'GET', '/v1/indexes/ints/items/50'), 404);
  noLeak(t, await http(base, 'GET', '/v1/indexes/ints/items/abc'), 404);
  noLeak(t, await http(base, 'GET', '/v1/indexes/words/distance?a=w1&b=zz'), 404);
  noLeak(t, await http(base, 'GET', '/v1/indexes/words/distance?a=w1'), 400);
});

t.test('input errors', async (t) => {
  const wrong = await http(base, 'POST', '/v1/indexes/words/search', { vector: [1, 2, 3] });
  noLeak(t, wrong, 400);
  t.match(wrong.body.message, /3 values.*expects 8/, 'names expected and actual length');
  noLeak(t, await http(base, 'POST', '/v1/indexes/words/search', { vector: [1, 2, 3, 'x', 5, 6, 7, 8] }), 400);
  noLeak(t, await http(base, 'POST', '/v1/indexes/words/search', { vector: [1, 2, 3, '4', 5, 6, 7, 8] }), 400);
  noLeak(t, await http(base, 'POST', '/v1/indexes/words/search', { vector: [1, 2, 3, null, 5, 6, 7, 8] }), 400);
  noLeak(t, await http(base, 'POST', '/v1/indexes/words/search', '{"vector":[1e400,2,3,4,5,6,7,8]}'), 400);
  noLeak(t, await http(base, 'POST', '/v1/indexes/words/search', '{"vector":[1e39,2,3,4,5,6,7,8]}'), 400);
  noLeak(t, await http(base, 'POST', '/v1/indexes/words/search', '{"vector":[NaN,2,3,4,5,6,7,8]}'), 400);
  // Finite in float32, but the squared length is not: every distance would be Infinity (null in JSON).
  const huge = await http(base, 'POST', '/v1/indexes/words/search', { vector: [2e19, 2e19, 1, 1, 1, 1, 1, 1], include_distances: true });
  noLeak(t, huge, 400);
  t.match(huge.body.message, /^vector is too long: its squared length 8\.00e\+38 is past the 32-bit float range/);
  const batchHuge = await http(base, 'POST', '/v1/indexes/words/search/batch', { queries: [{ vector: vector(8) }, { vector: [3e19, 1, 1, 1, 1, 1, 1, 1] }] });
  noLeak(t, batchHuge, 400);
  t.match(batchHuge.body.message, /queries\[1\]\.vector is too long/);
  t.equal((await http(base, 'POST', '/v1/indexes/words/search', { vector: [1e18, 1e18, 1, 1, 1, 1, 1, 1], include_distances: true })).status, 200, 'large but in range');
  // Hamming vectors are bits: Annoy's wrapper would quietly read 2 as 1 and 0.5 as 0.
  for (const bad of [2, 0.5, -1]) {
    const bits = Array.from({ length: 16 }, (_, i) => (i === 3 ? bad : i % 2));
    const r = await http(base, 'POST', '/v1/indexes/ham/search', { vector: bits });
    noLeak(t, r, 400);
    t.match(r.body.message, new RegExp(`vector\\[3\\] is ${bad}; hamming vectors hold 0 or 1 per bit`));
  }
  noLeak(t, await http(base, 'POST', '/v1/indexes/words/search', '{"vector":[1,2,'), 400);
  noLeak(t, await http(base, 'POST', '/v1/indexes/words/search', {}), 400);
  const unknown = await http(base, 'POST', '/v1/indexes/words/search', { vector: vector(8), k: 3 });
  noLeak(t, unknown, 400);
  t.match(unknown.body.message, /unknown field "k"/);
  for (const n of [0, -1, 1.5, 1001, '3']) noLeak(t, await http(base, 'POST', '/v1/indexes/words/search', { vector: vector(8), n }), 400);
  for (const k of [0, -2, 2_000_000]) noLeak(t, await http(base, 'POST', '/v1/indexes/words/search', { vector: vector(8), search_k: k }), 400);
  // Integers in decimal digits only: Number() would take hex, padding and exponents.
  for (const qs of ['n=0', 'n=abc', 'n=1001', 'search_k=0', 'search_k=-5', 'include_distances=maybe', 'bogus=1', 'n=0x10', 'n=%20%203', 'n=1e1', 'n=3.0', 'n=', 'search_k=0x10', 'n=3&n=x']) {
    noLeak(t, await http(base, 'GET', `/v1/indexes/words/items/w1/neighbors?${qs}`), 400);
  }
  noLeak(t, await http(base, 'POST', '/v1/indexes/nope/search', { vector: vector(8) }), 404);
  noLeak(t, await http(base, 'GET', '/v1/indexes/words/items/w1/neighbours'), 404);
  for (const path of ['/v1/indexes/', '/v1/indexes/words/items/', '/v1/indexes/words/items//neighbors']) noLeak(t, await http(base, 'GET', path), 404);
  noLeak(t, await http(base, 'POST', '/v1/indexes/words/search', { vector: Array.from({ length: 3000 }, () => 1.2345) }), 413);
  noLeak(t, await http(base, 'POST', '/v1/indexes/words/search', 'vector=1', { 'content-type': 'application/x-www-form-urlencoded' }), 415);
  const plain = await http(base, 'POST', '/v1/indexes/words/search', JSON.stringify({ vector: vector(8) }), { 'content-type': 'text/plain' });
  noLeak(t, plain, 415);
  t.match(plain.body.message, /text\/plain/, 'names the content type it refused');
  // A parameter given twice is named as such, not called a non-integer (or a non-string).
  for (const [path, key] of [['/v1/indexes/words/items/w1/neighbors?n=2&n=3', 'n'], ['/v1/indexes/words/items/w1/neighbors?include_distances=false&include_distances=false', 'include_distances'], ['/v1/indexes/words/distance?a=w1&b=w2&b=w3', 'b']]) {
    const twice = await http(base, 'GET', path);
    noLeak(t, twice, 400);
    t.equal(twice.body.message, `querystring/${key} is given 2 times; give it once`, path);
  }
  const spelled = await http(base, 'GET', '/v1/indexes/words/items/w1/neighbors?n=0x10');
  t.match(spelled.body.message, /querystring\/n must be an integer written in decimal digits/);
  for (const qs of ['n=3', 'n=-0', 'search_k=-1', 'n=3&search_k=50']) t.equal((await http(base, 'GET', `/v1/indexes/words/items/w1/neighbors?${qs}`)).status, qs === 'n=-0' ? 400 : 200, qs);
});

t.test('request errors say what is wrong: malformed JSON, prototype keys, "vector" or "item", unknown query parameters', async (t) => {
  const search = '/v1/indexes/words/search';
  const cases: [string, string, string][] = [
    [search, '{"vector":[1,2,', 'body is not valid JSON: '],
    [search, '{"item":"w1",}', 'body is not valid JSON: '],
    [search, '{"__proto__":{"x":1},"item":"w1"}', 'body must not have "__proto__" or "constructor.prototype" keys (they would change object prototypes)'],
    [search, '{"constructor":{"prototype":{"x":1}},"item":"w1"}', 'body must not have "__proto__" or "constructor.prototype" keys (they would change object prototypes)'],
    [search, '{"n":3}', 'body must have either "vector" or "item"'],
    [search, `{"item":"w1","vector":${JSON.stringify(vector(8))}}`, 'body must have either "vector" or "item", not both'],
    [search, '{"vectr":[1]}', 'body has an unknown field "vectr"'],
    [`${search}/batch`, '{"queries":[{"item":"w1"},{}]}', 'body/queries/1 must have either "vector" or "item"'],
    [`${search}/batch`, '{"queries":[{"item":"w1","vector":[1]}]}', 'body/queries/0 must have either "vector" or "item", not both'],
    [`${search}/batch`, '{"queries":[{"itm":"w1"}]}', 'body/queries/0 has an unknown field "itm"'],
    [`${search}/batch`, '{"queries":[5]}', 'body/queries/0 must be object'],
    [`${search}/batch`, '{"queries":[{"vector":"x"}]}', 'body/queries/0/vector must be array'],
  ];
  for (const [path, body, message] of cases) {
    const r = await http(base, 'POST', path, body);
    noLeak(t, r, 400);
    if (message.endsWith(': ')) t.ok(r.body.message.startsWith(message) && r.body.message.length > message.length, `${body}: ${r.body.message}`);
    else t.equal(r.body.message, message, body);
  }
  const empty = await http(base, 'POST', search, '');
  noLeak(t, empty, 400);
  t.equal(empty.body.message, 'body is empty; send a JSON object');
  // Every /v1 GET refuses a parameter it does not know, as the routes with parameters always did.
  for (const path of ['/v1/indexes?n=3', '/v1/indexes/words?verbose=1', '/v1/indexes/words/items/w1?n=3']) {
    const r = await http(base, 'GET', path);
    noLeak(t, r, 400);
    t.match(r.body.message, /^querystring has an unknown field "(n|verbose)"$/, path);
  }
  for (const path of ['/v1/indexes', '/v1/indexes/words', '/v1/indexes/words/items/w1']) t.equal((await http(base, 'GET', path)).status, 200, `${path} without parameters`);
  // The POST routes take everything in the body: a `?n=5` left there is refused, not silently dropped.
  for (const [path, body] of [[`${search}?n=5`, { item: 'w1', n: 2 }], [`${search}/batch?n=5`, { queries: [{ item: 'w1' }], n: 2 }]] as const) {
    const r = await http(base, 'POST', path, body);
    noLeak(t, r, 400);
    t.equal(r.body.message, 'querystring has an unknown field "n"', path);
  }
  t.equal((await http(base, 'POST', search, { item: 'w1', n: 2 })).status, 200, 'search without parameters');
  t.equal((await http(base, 'POST', `${search}/batch`, { queries: [{ item: 'w1' }], n: 2 })).status, 200, 'batch without parameters');
});

t.test('an ids file that starts with a byte-order mark (Windows tools write one): its first id is found', async (t) => {
  const bomDir = tempDir(t);
  const ids = Array.from({ length: 20 }, (_, i) => `p${i}`);
  writeIndex(bomDir, 'bom', buildIndex('bom', { dimensions: 4, items: 20, ids }));
  writeFileSync(join(bomDir, 'bom.ids'), '\uFEFF' + ids.join('\r\n') + '\r\n');
  const bomServer = await serve(t, bomDir, { workers: 1 });
  const first = await http(bomServer.url, 'GET', '/v1/indexes/bom/items/p0');
  t.equal(first.status, 200, 'the first id is found');
  t.equal(first.body.id, 'p0');
  const all = await http(bomServer.url, 'GET', '/v1/indexes/bom/items/p1/neighbors?n=20&include_distances=false');
  t.same([...all.body.ids].sort(), [...ids].sort(), 'every id as written, none with the mark');
});

t.test('a manifest that starts with a byte-order mark is read, not rejected as invalid JSON', async (t) => {
  const bomDir = tempDir(t);
  const built = buildIndex('bomjson', { dimensions: 4, items: 20 });
  writeIndex(bomDir, 'bomjson', built);
  writeFileSync(join(bomDir, 'bomjson.json'), '\uFEFF' + JSON.stringify(built.manifest));
  const bomServer = await serve(t, bomDir, { workers: 1 });
  const r = await http(bomServer.url, 'GET', '/v1/indexes/bomjson');
  t.equal(r.status, 200, 'served');
  t.equal(r.body.dimensions, 4);
});

t.test('request ids', async (t) => {
  const given = await http(base, 'GET', '/healthz', undefined, { 'x-request-id': 'abc-123' });
  t.equal(given.headers['x-request-id'], 'abc-123');
  const made = await http(base, 'GET', '/healthz', undefined, { 'x-request-id': 'bad id with spaces' });
  t.match(made.headers['x-request-id'], /^[0-9a-f-]{36}$/);
});

t.test('deadline exceeded answers 504 and the pool recovers', async (t) => {
  const tight = await serve(t, dir, { deadlineMs: 1, workers: 1, maxBatch: 4096 });
  const queries = Array.from({ length: 4096 }, (_, i) => ({ vector: vector(8, i / 100) }));
  const r = await http(tight.url, 'POST', '/v1/indexes/words/search/batch', { queries, n: 100, search_k: 1_000_000 }, {});
  noLeak(t, r, 504);
  const after = await http(tight.url, 'GET', '/v1/indexes/words/items/w1');
  t.equal(after.status, 200);
});

t.test('queue full answers 503 with Retry-After', async (t) => {
  const small = await serve(t, dir, { queueSize: 0, workers: 1, maxBatch: 512 });
  const queries = Array.from({ length: 512 }, (_, i) => ({ vector: vector(8, i / 50) }));
  const replies = await Promise.all(
    Array.from({ length: 12 }, () => http(small.url, 'POST', '/v1/indexes/words/search/batch', { queries, n: 50, search_k: 100_000, include_distances: false })),
  );
  const full = replies.filter((r) => r.status === 503);
  t.ok(full.length > 0, 'some requests were shed');
  t.ok(
    replies.every((r) => r.status === 200 || r.status === 503),
    'the others succeeded',
  );
  noLeak(t, full[0], 503);
  t.equal(full[0].headers['retry-after'], '1');
});

t.test('API key', async (t) => {
  const locked = await serve(t, dir, { apiKey: 's3cret' });
  noLeak(t, await http(locked.url, 'GET', '/v1/indexes'), 401);
  noLeak(t, await http(locked.url, 'GET', '/v1/indexes', undefined, { authorization: 'Bearer nope' }), 401);
  t.equal((await http(locked.url, 'GET', '/v1/indexes', undefined, { authorization: 'Bearer s3cret' })).status, 200);
  t.equal((await http(locked.url, 'GET', '/v1/indexes/words/items/w1', undefined, { 'x-api-key': 's3cret' })).status, 200);
  t.equal((await http(locked.url, 'GET', '/healthz')).status, 200);
  t.equal((await http(locked.url, 'GET', '/metrics')).status, 200);
});

t.test('compressed request bodies: 415 naming the coding, not "Body is not valid JSON"', async (t) => {
  const body = JSON.stringify({ vector: vector(8), n: 2 });
  for (const [coding, data] of [['gzip', gzipSync(body)], ['br', brotliCompressSync(body)], ['gzip', body]] as const) {
    const res = await request(`${base}/v1/indexes/words/search`, { method: 'POST', body: data, headers: { 'content-type': 'application/json', 'content-encoding': coding } });
    const text = await res.body.text();
    t.equal(res.statusCode, 415, `${coding}: 415`);
    t.same(JSON.parse(text), { statusCode: 415, error: 'Unsupported Media Type', message: `request bodies must be plain JSON, not compressed (content-encoding: ${coding})` });
    t.equal(res.headers['accept-encoding'], 'identity', `${coding}: says what is accepted`);
  }
  const identity = await http(base, 'POST', '/v1/indexes/words/search', body, { 'content-encoding': 'identity' });
  t.equal(identity.status, 200, 'identity is no coding at all');
});

t.test('admin reload', async (t) => {
  noLeak(t, await http(base, 'POST', '/v1/admin/reload'), 404);
  const admin = await serve(t, dir, { adminToken: 'tok' });
  noLeak(t, await http(admin.url, 'POST', '/v1/admin/reload'), 401);
  noLeak(t, await http(admin.url, 'POST', '/v1/admin/reload', undefined, { authorization: 'Bearer wrong' }), 401);
  const r = await http(admin.url, 'POST', '/v1/admin/reload', undefined, { authorization: 'Bearer tok' });
  t.equal(r.status, 200);
  t.same(
    r.body.results,
    ['dotp', 'ham', 'ints', 'manh', 'words'].map((index) => ({ index, result: 'loaded', version: 2 })),
  );
  t.equal((await http(admin.url, 'GET', '/v1/indexes/words')).body.version, 2);
});

t.test('admin reload that cannot read the index directory: 503, and the indexes keep serving', async (t) => {
  const own = tempDir(t);
  writeIndex(own, 'ints', ints);
  const admin = await serve(t, own, { adminToken: 'tok', pollIntervalMs: 0 });
  const moved = `${own}-moved`;
  renameSync(own, moved);
  t.teardown(() => renameSync(moved, own));
  const r = await http(admin.url, 'POST', '/v1/admin/reload', undefined, { authorization: 'Bearer tok' });
  noLeak(t, r, 503);
  t.equal(r.body.message, 'the index directory cannot be read (ENOENT); nothing was reloaded, see the server log');
  const served = await http(admin.url, 'GET', '/v1/indexes/ints');
  t.equal(served.status, 200, 'the loaded index is still served');
  t.equal(served.body.version, 1);
});

t.test('every metric is served', async (t) => {
  for (const [name, built] of Object.entries(others)) {
    const m = built.manifest;
    const engine = AnnoyIndex.open(storageFromBytes(built.ann), m.metric, m.dimensions);
    const q = built.vectors[7].map((x, i) => (m.metric === 'hamming' ? (i % 3 === 0 ? 1 - x : x) : x + 0.01));
    const r = await http(base, 'POST', `/v1/indexes/${name}/search`, { vector: q, n: 5 });
    t.equal(r.status, 200, `${name} search`);
    const e = engine.getNnsByVector(q, 5, -1, true);
    t.same(r.body.ids, e.ids, `${m.metric}: ids`);
    near(t, r.body.distances, e.distances, `${m.metric}: distances`);
    const byItem = await http(base, 'GET', `/v1/indexes/${name}/items/9/neighbors?n=4`);
    t.same(byItem.body.ids, engine.getNnsByItem(9, 4).ids, `${m.metric}: by item`);
    const item = await http(base, 'GET', `/v1/indexes/${name}/items/9`);
    t.same(item.body.vector, engine.getItemVector(9), `${m.metric}: stored vector`);
  }
});

t.test('URLs the router refuses: an over-long path segment (414) and broken percent-encoding (400)', async (t) => {
  const long = await http(base, 'GET', `/v1/indexes/words/items/${'x'.repeat(1025)}`);
  noLeak(t, long, 414);
  t.match(long.body.message, /longer than 1024 characters/);
  const fits = await http(base, 'GET', `/v1/indexes/words/items/${'x'.repeat(1024)}`);
  t.equal(fits.status, 404, 'a 1024-character id is looked up (and not found)');
  const broken = await http(base, 'GET', '/v1/indexes/words/items/%E0%A4%A');
  noLeak(t, broken, 400);
  t.match(broken.body.message, /malformed URL/);
  t.notMatch(broken.text, /%E0/, 'the broken URL is not echoed');
});

t.test('broken percent-encoding in a query string is refused (400) as in the path, not read as the raw text', async (t) => {
  // The query-string parser keeps the raw text of a value it cannot decode: `b=w2%` looked up "w2%".
  for (const qs of ['a=w1&b=w2%', 'a=w1&b=%FF', 'a=%E0%A4%A&b=w1', 'a=w1&b=w2&%ZZ']) {
    const r = await http(base, 'GET', `/v1/indexes/words/distance?${qs}`);
    noLeak(t, r, 400);
    t.equal(r.body.message, 'malformed URL (invalid percent-encoding)', qs);
  }
  for (const path of ['/v1/indexes/words/items/w1/neighbors?n=3&exclude_self=tru%', '/v1/indexes/words/items?offset=0%G0', '/v1/indexes?x=%', '/v1/indexes/words/items/w1?%FF']) {
    const r = await http(base, 'GET', path);
    noLeak(t, r, 400);
    t.equal(r.body.message, 'malformed URL (invalid percent-encoding)', path);
  }
  // Encoded right, the same characters are ids like any other.
  const slash = 'slash/and space?&';
  const ok = await http(base, 'GET', `/v1/indexes/words/distance?a=${encodeURIComponent(slash)}&b=w%31`);
  t.equal(ok.status, 200, 'a well-encoded query string is answered');
  const percent = await http(base, 'GET', '/v1/indexes/words/distance?a=w1&b=w2%25');
  t.equal(percent.status, 404);
  t.equal(percent.body.message, 'item "w2%" not found in index "words"', '%25 is a percent sign');
});

t.test('URLs the router refuses get the request id, security headers, a metric and an access line', async (t) => {
  const { server: logged, logs } = await serveLogged(t, dir, { accessLog: true });
  const refused = [
    { path: `/v1/indexes/words/items/${'x'.repeat(1025)}`, status: 414 },
    { path: '/v1/indexes/words/items/%E0%A4%A', status: 400 },
  ];
  for (const { path, status } of refused) {
    const r = await http(logged.url, 'GET', path, undefined, { 'x-request-id': `refused-${status}` });
    t.equal(r.status, status);
    t.equal(r.headers['x-request-id'], `refused-${status}`, `${status}: the caller's request id is echoed`);
    t.equal(r.headers['x-content-type-options'], 'nosniff', `${status}: security headers`);
    t.equal(r.headers['content-security-policy'], "default-src 'none'; frame-ancestors 'none'");
    t.equal(r.headers['cache-control'], 'no-store', `${status}: an error body is not cached`);
    const [line] = logs.find('request completed', { reqId: `refused-${status}` });
    t.match(line, { method: 'GET', route: 'unmatched', status }, `${status}: access line`);
    t.notMatch(JSON.stringify(line), /xxxx|%E0/, `${status}: the URL is not logged`);
    const scrape = (await http(logged.url, 'GET', '/metrics')).text;
    t.equal(metric(scrape, 'nnserve_http_request_duration_seconds_count', { route: 'unmatched', method: 'GET', status: String(status) }), 1, `${status}: counted`);
  }
});
