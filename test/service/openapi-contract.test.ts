/**
 * What the server answers is what openapi.yaml says: every operation of the document is called on
 * real servers, and each answer's status, Content-Type and body are checked against the document.
 * Several routes serialise with JSON.stringify (nativeJson), so nothing else stops a handler from
 * answering a field, a type or a status that clients generated from the document do not know.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import t, { type Test } from 'tap';
import { parse } from 'yaml';
import { repoRoot } from '../helpers/fixtures.js';
import { buildIndex, http, serve, tempDir, waitFor, writeIndex, type Reply } from './helpers.js';

interface MediaType {
  schema: object;
}
interface Response {
  content?: Record<string, MediaType>;
}
interface Operation {
  responses: Record<string, Response>;
  security?: Record<string, string[]>[];
}
interface SecurityScheme {
  type: string;
  scheme?: string;
  in?: string;
  name?: string;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, object>; securitySchemes: Record<string, SecurityScheme> };
}

const doc = parse(readFileSync(join(repoRoot, 'openapi.yaml'), 'utf8')) as Document;

/**
 * The document's schemas as the test reads them: an object schema that lists its properties admits
 * no others, so an answer with a field the document does not declare fails here, while a generated
 * client would silently drop it (or, in strict deserialisers, fail in production).
 */
function closed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    out[key] = key === 'properties' ? Object.fromEntries(Object.entries(value as object).map(([name, s]) => [name, closed(s)])) : closed(value);
  }
  if (out.properties && !('additionalProperties' in out)) out.additionalProperties = false;
  return out;
}

// strict: false lets OpenAPI's own keywords (example, examples) through.
const ajv = new Ajv({ strict: false, allErrors: true });
ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i);
const components = closed(doc.components.schemas);
const validators = new WeakMap<object, ValidateFunction>();

function validatorFor(schema: object): ValidateFunction {
  let validate = validators.get(schema);
  if (!validate) {
    // The components ride along in each root, so `#/components/schemas/…` resolves as in the document.
    validate = ajv.compile({ ...(closed(schema) as object), components: { schemas: components } });
    validators.set(schema, validate);
  }
  return validate;
}

/** Statuses seen per operation ("GET /v1/indexes"), for the coverage check at the end. */
const seen = new Map<string, Set<number>>();

/** Checks one answer of `method template` against the document: status, media type, body. */
function conforms(t: Test, method: 'GET' | 'POST', template: string, r: Reply, what = ''): void {
  const operation = `${method} ${template}`;
  const label = `${operation}${what ? ` (${what})` : ''} → ${r.status}`;
  const op = doc.paths[template]?.[method.toLowerCase()];
  if (!t.ok(op, `${operation} is in the document`)) return;
  if (!seen.has(operation)) seen.set(operation, new Set());
  seen.get(operation)!.add(r.status);
  const response = op.responses[String(r.status)];
  if (!t.ok(response, `${label}: the status is documented (${Object.keys(op.responses).join(', ')}); body ${r.text.slice(0, 160)}`)) return;
  bodyConforms(t, label, response, r);
  // A generated client sends credentials only where the document asks for them.
  if (r.status === 401) t.ok(op.security?.some((requirement) => Object.keys(requirement).length > 0), `${label}: the operation declares the credentials it takes`);
}

function bodyConforms(t: Test, label: string, response: Response, r: Reply): void {
  const type = String(r.headers['content-type'] ?? '')
    .split(';')[0]
    .trim();
  const media = response.content?.[type];
  if (!t.ok(media, `${label}: Content-Type ${type || '(none)'} is documented (${Object.keys(response.content ?? {}).join(', ')})`)) return;
  if (type !== 'application/json') {
    t.ok(r.text.length > 0, `${label}: a ${type} body`);
    return;
  }
  let body: unknown;
  try {
    body = JSON.parse(r.text);
  } catch {
    t.fail(`${label}: the body is JSON: ${r.text.slice(0, 160)}`);
    return;
  }
  const validate = validatorFor(media!.schema);
  t.ok(validate(body), `${label}: the body matches the documented schema${validate.errors ? `: ${ajv.errorsText(validate.errors)} in ${r.text.slice(0, 300)}` : ''}`);
}

/** An answer to a URL no route takes: no operation to hold it to, but still the one error shape. */
function isError(t: Test, r: Reply, status: number, what: string): void {
  t.equal(r.status, status, what);
  bodyConforms(t, `${what} → ${r.status}`, { content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }, r);
}

const words = buildIndex('words', { metric: 'euclidean', dimensions: 8, items: 200, seed: 7, ids: Array.from({ length: 200 }, (_, i) => `w${i}`), description: 'test words' });
const ints = buildIndex('ints', { metric: 'angular', dimensions: 4, items: 50, seed: 3 });
const ham = buildIndex('ham', { metric: 'hamming', dimensions: 16, items: 60, seed: 4 });
const dotp = buildIndex('dotp', { metric: 'dot', dimensions: 6, items: 60, seed: 5 });
const vector = (n: number, v = 0.25) => Array.from({ length: n }, (_, i) => v + i / 10);
const truncated = (built: typeof words) => ({ ...built, ann: built.ann.subarray(0, built.ann.byteLength - 7) });

function indexDir(t: Test): string {
  const dir = tempDir(t);
  for (const [name, built] of Object.entries({ words, ints, ham, dotp })) writeIndex(dir, name, built);
  return dir;
}

const SEARCH = '/v1/indexes/{name}/search';
const BATCH = '/v1/indexes/{name}/search/batch';
const NEIGHBORS = '/v1/indexes/{name}/items/{id}/neighbors';
const ITEM = '/v1/indexes/{name}/items/{id}';
const ITEMS = '/v1/indexes/{name}/items';
const DISTANCE = '/v1/indexes/{name}/distance';
const INDEX = '/v1/indexes/{name}';
const LIST = '/v1/indexes';
const RELOAD = '/v1/admin/reload';

t.test('answers on an open server: successes, input errors, unknown names, body limits', async (t) => {
  const dir = indexDir(t);
  writeIndex(dir, 'stale', buildIndex('stale', { dimensions: 4, items: 20 }));
  // Never served: its only files are broken, so it is listed under `rejected`.
  writeIndex(dir, 'broken', truncated(buildIndex('broken', { dimensions: 4, items: 20 })));
  const server = await serve(t, dir, { maxBatch: 64, bodyLimit: 16 * 1024, adminToken: 'tok', pollIntervalMs: 0, requiredIndexes: ['absent'] });
  const base = server.url;
  const admin = { authorization: 'Bearer tok' };

  conforms(t, 'GET', '/healthz', await http(base, 'GET', '/healthz'));
  conforms(t, 'GET', '/readyz', await http(base, 'GET', '/readyz'), 'a required index is not served');
  conforms(t, 'GET', '/metrics', await http(base, 'GET', '/metrics'));

  // A newer version of `stale` that fails: the old one serves on, with lastRejection.
  writeIndex(dir, 'stale', truncated(buildIndex('stale', { dimensions: 4, items: 20 })));
  const reload = await http(base, 'POST', '/v1/admin/reload', undefined, admin);
  conforms(t, 'POST', RELOAD, reload, 'loaded and rejected results');
  t.ok(reload.body.results.some((r: { result: string }) => r.result === 'rejected'), 'a rejected result was checked');
  t.ok(reload.body.results.some((r: { result: string }) => r.result === 'loaded'), 'a loaded result was checked');
  conforms(t, 'POST', RELOAD, await http(base, 'POST', '/v1/admin/reload'), 'no token');
  conforms(t, 'POST', RELOAD, await http(base, 'POST', '/v1/admin/reload', undefined, { authorization: 'Bearer wrong' }), 'wrong token');
  conforms(t, 'POST', RELOAD, await http(base, 'POST', '/v1/admin/reload?force=1', undefined, admin), 'unknown query parameter');

  const list = await http(base, 'GET', '/v1/indexes');
  conforms(t, 'GET', LIST, list);
  t.ok(list.body.rejected.length > 0, 'the list had a rejected name');
  t.ok(list.body.indexes.some((i: { lastRejection?: object }) => i.lastRejection), 'and an index with lastRejection');
  conforms(t, 'GET', LIST, await http(base, 'GET', '/v1/indexes?n=3'), 'unknown query parameter');

  const stale = await http(base, 'GET', '/v1/indexes/stale');
  t.ok(stale.body.lastRejection, 'stale has lastRejection');
  conforms(t, 'GET', INDEX, stale, 'with lastRejection');
  conforms(t, 'GET', INDEX, await http(base, 'GET', '/v1/indexes/words'), 'with description');
  conforms(t, 'GET', INDEX, await http(base, 'GET', '/v1/indexes/ints'), 'without description');
  conforms(t, 'GET', INDEX, await http(base, 'GET', '/v1/indexes/nope'), 'unknown index');
  conforms(t, 'GET', INDEX, await http(base, 'GET', '/v1/indexes/broken'), 'rejected index');
  conforms(t, 'GET', INDEX, await http(base, 'GET', `/v1/indexes/${'x'.repeat(300)}`), 'name longer than documented');
  conforms(t, 'GET', INDEX, await http(base, 'GET', `/v1/indexes/${'x'.repeat(1025)}`), 'name longer than a path segment may be');
  conforms(t, 'GET', INDEX, await http(base, 'GET', '/v1/indexes/%E0%A4%A'), 'broken percent-encoding');
  conforms(t, 'GET', INDEX, await http(base, 'GET', '/v1/indexes/words?verbose=1'), 'unknown query parameter');

  conforms(t, 'GET', ITEMS, await http(base, 'GET', '/v1/indexes/words/items?limit=3'), 'a page of string ids');
  conforms(t, 'GET', ITEMS, await http(base, 'GET', '/v1/indexes/ints/items?offset=45'), 'the last page of integer ids');
  for (const qs of ['limit=0', 'limit=10001', 'offset=-1', 'offset=0x1', 'page=2']) conforms(t, 'GET', ITEMS, await http(base, 'GET', `/v1/indexes/words/items?${qs}`), qs);
  conforms(t, 'GET', ITEMS, await http(base, 'GET', '/v1/indexes/nope/items'), 'unknown index');
  conforms(t, 'GET', ITEM, await http(base, 'GET', '/v1/indexes/words/items/w3'), 'string id');
  conforms(t, 'GET', ITEM, await http(base, 'GET', '/v1/indexes/ints/items/4'), 'integer id');
  const bits = await http(base, 'GET', '/v1/indexes/ham/items/9');
  conforms(t, 'GET', ITEM, bits, 'hamming bits');
  t.equal(bits.body.vector.length, 16, 'one number per bit');
  conforms(t, 'GET', ITEM, await http(base, 'GET', '/v1/indexes/dotp/items/9'), 'dot');
  conforms(t, 'GET', ITEM, await http(base, 'GET', '/v1/indexes/words/items/w999'), 'unknown item');
  conforms(t, 'GET', ITEM, await http(base, 'GET', '/v1/indexes/nope/items/1'), 'unknown index');
  conforms(t, 'GET', ITEM, await http(base, 'GET', `/v1/indexes/words/items/${'x'.repeat(1025)}`), 'id longer than a path segment may be');
  conforms(t, 'GET', ITEM, await http(base, 'GET', '/v1/indexes/words/items/w1?n=3'), 'unknown query parameter');

  for (const qs of ['n=5', 'n=5&include_distances=false', 'n=5&exclude_self=true&search_k=1000']) {
    conforms(t, 'GET', NEIGHBORS, await http(base, 'GET', `/v1/indexes/words/items/w3/neighbors?${qs}`), qs);
  }
  conforms(t, 'GET', NEIGHBORS, await http(base, 'GET', '/v1/indexes/ints/items/7/neighbors?n=3'), 'integer ids');
  conforms(t, 'GET', NEIGHBORS, await http(base, 'GET', '/v1/indexes/ham/items/7/neighbors?n=3'), 'hamming');
  conforms(t, 'GET', NEIGHBORS, await http(base, 'GET', '/v1/indexes/dotp/items/7/neighbors?n=3'), 'dot');
  for (const qs of ['n=0', 'n=0x10', 'bogus=1', 'n=2&n=3']) conforms(t, 'GET', NEIGHBORS, await http(base, 'GET', `/v1/indexes/words/items/w1/neighbors?${qs}`), qs);
  conforms(t, 'GET', NEIGHBORS, await http(base, 'GET', '/v1/indexes/words/items/nope/neighbors'), 'unknown item');

  conforms(t, 'GET', DISTANCE, await http(base, 'GET', '/v1/indexes/words/distance?a=w1&b=w2'), 'string ids');
  conforms(t, 'GET', DISTANCE, await http(base, 'GET', '/v1/indexes/ham/distance?a=1&b=2'), 'hamming');
  conforms(t, 'GET', DISTANCE, await http(base, 'GET', '/v1/indexes/words/distance?a=w1&b=zz'), 'unknown item');
  conforms(t, 'GET', DISTANCE, await http(base, 'GET', '/v1/indexes/words/distance?a=w1'), 'b missing');

  const searches: [string, unknown][] = [
    ['words', { vector: vector(8) }],
    ['words', { vector: vector(8), n: 3, include_distances: false, exclude: ['w1', 'not-an-id'] }],
    ['words', { item: 'w17', n: 4 }],
    ['ints', { item: 3, n: 3, exclude: [3] }],
    ['ints', { vector: [1, 0, 0, 0], n: 4 }],
    ['ham', { vector: Array.from({ length: 16 }, (_, i) => i % 2), n: 4 }],
    ['dotp', { vector: vector(6), n: 4 }],
  ];
  for (const [name, body] of searches) conforms(t, 'POST', SEARCH, await http(base, 'POST', `/v1/indexes/${name}/search`, body), `${name} ${JSON.stringify(body).slice(0, 60)}`);
  const refusedSearches: [string, unknown, Record<string, string>][] = [
    ['validation', { vector: vector(8), k: 3 }, {}],
    ['neither vector nor item', { n: 3 }, {}],
    ['engine: wrong length', { vector: [1, 2, 3] }, {}],
    ['engine: out of float range', { vector: [2e19, 2e19, 1, 1, 1, 1, 1, 1] }, {}],
    ['malformed JSON', '{"vector":[1,2,', {}],
    ['unknown item', { item: 'nope' }, {}],
    ['too large', { vector: Array.from({ length: 3000 }, () => 1.2345) }, {}],
    ['text/plain', JSON.stringify({ vector: vector(8) }), { 'content-type': 'text/plain' }],
    ['compressed', JSON.stringify({ vector: vector(8) }), { 'content-encoding': 'gzip' }],
  ];
  for (const [what, body, headers] of refusedSearches) conforms(t, 'POST', SEARCH, await http(base, 'POST', '/v1/indexes/words/search', body, headers), what);
  conforms(t, 'POST', SEARCH, await http(base, 'POST', '/v1/indexes/nope/search', { vector: vector(8) }), 'unknown index');
  conforms(t, 'POST', SEARCH, await http(base, 'POST', '/v1/indexes/ham/search', { vector: Array.from({ length: 16 }, () => 2) }), 'engine: not a bit');

  for (const include_distances of [true, false]) {
    const queries = [{ item: 'w1' }, { vector: vector(8) }];
    conforms(t, 'POST', BATCH, await http(base, 'POST', '/v1/indexes/words/search/batch', { queries, n: 3, include_distances }), `include_distances ${include_distances}`);
  }
  conforms(t, 'POST', BATCH, await http(base, 'POST', '/v1/indexes/words/search/batch', { queries: Array.from({ length: 40 }, (_, i) => ({ vector: vector(8, i / 7) })), n: 4 }), 'split across workers');
  conforms(t, 'POST', BATCH, await http(base, 'POST', '/v1/indexes/ints/search/batch', { queries: [{ item: 5 }, { item: '6' }], n: 2 }), 'integer ids');
  const refusedBatches: [string, unknown, Record<string, string>][] = [
    ['empty', { queries: [] }, {}],
    ['too many', { queries: Array.from({ length: 65 }, () => ({ item: 'w1' })) }, {}],
    ['engine: wrong length', { queries: [{ item: 'w1' }, { vector: [1, 2] }] }, {}],
    ['unknown item', { queries: [{ item: 'w1' }, { item: 'missing' }] }, {}],
    ['too large', { queries: [{ vector: Array.from({ length: 3000 }, () => 1.2345) }] }, {}],
    ['text/plain', '{}', { 'content-type': 'text/plain' }],
    ['compressed', '{}', { 'content-encoding': 'br' }],
  ];
  for (const [what, body, headers] of refusedBatches) conforms(t, 'POST', BATCH, await http(base, 'POST', '/v1/indexes/words/search/batch', body, headers), what);

  isError(t, await http(base, 'GET', '/v1/nothing-here'), 404, 'unknown route');
  isError(t, await http(base, 'GET', '/v1/indexes/words/search'), 404, 'unknown method of a documented path');
});

t.test('answers with credentials and a rate limit: 401, 429, and a ready server', async (t) => {
  const server = await serve(t, indexDir(t), { apiKey: 'key', adminToken: 'tok', rateLimitMax: 50, rateLimitWindowMs: 60_000, maxBatch: 64 });
  const base = server.url;
  conforms(t, 'GET', '/readyz', await http(base, 'GET', '/readyz'), 'ready');
  const calls: ['GET' | 'POST', string, string, unknown][] = [
    ['GET', LIST, '/v1/indexes', undefined],
    ['GET', INDEX, '/v1/indexes/words', undefined],
    ['GET', ITEMS, '/v1/indexes/words/items', undefined],
    ['GET', ITEM, '/v1/indexes/words/items/w1', undefined],
    ['GET', NEIGHBORS, '/v1/indexes/words/items/w1/neighbors', undefined],
    ['GET', DISTANCE, '/v1/indexes/words/distance?a=w1&b=w2', undefined],
    ['POST', SEARCH, '/v1/indexes/words/search', { item: 'w1' }],
    ['POST', BATCH, '/v1/indexes/words/search/batch', { queries: [{ item: 'w1' }] }],
    ['POST', RELOAD, '/v1/admin/reload', undefined],
  ];
  // The limit counts every /v1 request from this address, refused ones too: the 401s come first.
  // Each way the server takes a key is a scheme the operation names.
  const ways: Record<string, (key: string) => Record<string, string>> = {
    bearer: (key) => ({ authorization: `Bearer ${key}` }),
    header: (key) => ({ 'x-api-key': key }),
  };
  for (const [method, template, path, body] of calls) {
    const key = template === RELOAD ? 'tok' : 'key';
    const schemes = (doc.paths[template][method.toLowerCase()].security ?? []).flatMap((requirement) => Object.keys(requirement)).map((name) => doc.components.securitySchemes[name]);
    for (const scheme of schemes) {
      const way = scheme.type === 'http' && scheme.scheme === 'bearer' ? ways.bearer : scheme.type === 'apiKey' && scheme.in === 'header' && scheme.name === 'x-api-key' ? ways.header : undefined;
      if (!t.ok(way, `${method} ${template}: a scheme the test knows`)) continue;
      conforms(t, method, template, await http(base, method, path, body, way!(key)), `credentials per scheme ${JSON.stringify(scheme)}`);
    }
    if (template !== RELOAD) t.ok(schemes.some((s) => s.type === 'apiKey'), `${method} ${template}: the x-api-key header is documented`);
    conforms(t, method, template, await http(base, method, path, body), 'no credentials');
    conforms(t, method, template, await http(base, method, path, body, { authorization: 'Bearer wrong' }), 'wrong credentials');
    conforms(t, method, template, await http(base, method, path, body, { authorization: `Bearer ${key}` }), 'credentials');
  }
  for (const [method, template, path, body] of calls) {
    const key = template === RELOAD ? 'tok' : 'key';
    let r: Reply;
    let tries = 0;
    do r = await http(base, method, path, body, { authorization: `Bearer ${key}` });
    while (r.status !== 429 && ++tries < 40);
    t.equal(r.status, 429, `${method} ${path}: rate limited`);
    conforms(t, method, template, r, 'over the rate limit');
  }
});

t.test('answers of an overloaded server: 504 past the deadline, 503 with the queue full, 404 without an admin token', async (t) => {
  const server = await serve(t, indexDir(t), { deadlineMs: 1, workers: 1, queueSize: 0, maxBatch: 4096 });
  const queries = Array.from({ length: 4096 }, (_, i) => ({ vector: vector(8, i / 100) }));
  const replies = await Promise.all(Array.from({ length: 4 }, () => http(server.url, 'POST', '/v1/indexes/words/search/batch', { queries, n: 100, search_k: 1_000_000 })));
  const statuses = new Set(replies.map((r) => r.status));
  t.ok(statuses.has(504), `a 504 was checked (${[...statuses]})`);
  t.ok(statuses.has(503), `a 503 was checked (${[...statuses]})`);
  for (const r of replies) conforms(t, 'POST', BATCH, r, 'heavy batch');
  conforms(t, 'POST', RELOAD, await http(server.url, 'POST', '/v1/admin/reload', undefined, { authorization: 'Bearer tok' }), 'no admin token configured');
});

/** Writes `head` on a connection of its own; `finish` writes the rest; the reply is read once the server closes the connection. */
async function rawRequest(port: number, head: string): Promise<{ finish: (rest: string) => void; reply: Promise<Reply> }> {
  const socket = connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  let received = '';
  socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.write(head);
  const reply = closed.then((): Reply => {
    const split = received.indexOf('\r\n\r\n');
    const [statusLine, ...lines] = received.slice(0, split).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
    const text = received.slice(split + 4);
    return { status: Number(statusLine.split(' ')[1]), headers, body: text, text };
  });
  return { finish: (rest) => socket.end(rest), reply };
}

t.test('answers written below Fastify have the one error shape', async (t) => {
  const server = await serve(t, indexDir(t), { workers: 1 });
  isError(t, await (await rawRequest(server.port, 'BOGUS\r\n\r\n')).reply, 400, 'malformed HTTP');
  isError(t, await (await rawRequest(server.port, `GET /healthz HTTP/1.1\r\nHost: x\r\nx-big: ${'y'.repeat(20_000)}\r\n\r\n`)).reply, 431, 'oversized headers');
});

t.test('answers of a server shutting down: 503 on every route', async (t) => {
  const dir = indexDir(t);
  const server = await serve(t, dir, { adminToken: 'tok' });
  const paths: [string, string][] = [
    ['/healthz', '/healthz'],
    ['/readyz', '/readyz'],
    ['/metrics', '/metrics'],
    [LIST, '/v1/indexes'],
    [INDEX, '/v1/indexes/words'],
    [ITEMS, '/v1/indexes/words/items'],
    [ITEM, '/v1/indexes/words/items/w1'],
    [NEIGHBORS, '/v1/indexes/words/items/w1/neighbors'],
    [DISTANCE, '/v1/indexes/words/distance?a=w1&b=w2'],
  ];
  // Half a request keeps each connection busy, so closing the listener leaves it open.
  const late = await Promise.all(paths.map(([, path]) => rawRequest(server.port, `GET ${path} HTTP/1.1\r\nHost: x\r\n`)));
  await new Promise((resolve) => setTimeout(resolve, 100));
  const stopped = server.shutdown('test');
  await waitFor(() => (server.app.server.listening ? undefined : true), 200, 5);
  for (const l of late) l.finish('\r\n');
  for (const [i, [template]] of paths.entries()) conforms(t, 'GET', template, await late[i].reply, 'shutting down');
  t.equal(await stopped, 0);
});

t.test('the checks refuse fields, types and required fields the document does not declare', async (t) => {
  const schemaOf = (template: string, method: string, status: number) => doc.paths[template][method].responses[String(status)].content!['application/json'].schema;
  const error = validatorFor(schemaOf(LIST, 'get', 401));
  t.ok(error({ statusCode: 401, error: 'Unauthorized', message: 'no' }), 'the error shape');
  t.notOk(error({ statusCode: 401, error: 'Unauthorized', message: 'no', code: 'NNS_ERR_UNAUTHORIZED' }), 'an undeclared field');
  t.notOk(error({ statusCode: '401', error: 'Unauthorized', message: 'no' }), 'a wrong type');
  const neighbors = validatorFor(schemaOf(SEARCH, 'post', 200));
  t.ok(neighbors({ index: 'a', version: 1, ids: ['x', 2], distances: [0, 1.5] }), 'neighbours');
  t.notOk(neighbors({ index: 'a', version: 1, ids: [1], took: 3 }), 'an undeclared field beside a $ref');
  t.notOk(neighbors({ index: 'a', ids: [1] }), 'a required field missing');
  t.notOk(neighbors({ index: 'a', version: 1, ids: [1], distances: [null] }), 'a distance JSON.stringify made of Infinity');
  const list = validatorFor(schemaOf(LIST, 'get', 200));
  const info = { name: 'a', metric: 'dot', dimensions: 2, items: 3, trees: 1, bytes: 10, version: 1, loadedAt: new Date().toISOString() };
  t.ok(list({ indexes: [{ ...info, lastRejection: { reason: 'r', at: info.loadedAt } }], rejected: [] }), 'an index list');
  t.notOk(list({ indexes: [{ ...info, lastRejection: { reason: 'r', at: info.loadedAt, file: '/srv/a.ann' } }], rejected: [] }), 'an undeclared field in a nested component');
  t.notOk(list({ indexes: [{ ...info, loadedAt: 'yesterday' }], rejected: [] }), 'a date-time that is not one');
});

t.test('every operation of the document was called, and every answer above conformed', async (t) => {
  for (const [template, operations] of Object.entries(doc.paths)) {
    for (const method of Object.keys(operations)) {
      const statuses = seen.get(`${method.toUpperCase()} ${template}`);
      t.ok(statuses?.has(200), `${method.toUpperCase()} ${template} answered 200 at least once`);
      t.comment(`${method.toUpperCase()} ${template}: ${[...(statuses ?? [])].sort().join(', ')} checked; documented ${Object.keys(operations[method].responses).join(', ')}`);
    }
  }
});
