/**
 * Security settings: API keys on the query routes, a separate admin token (admin routes off by
 * default), optional rate limiting, index names confined to the index directory, headers.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { loadConfig } from '../../src/service/config.js';
import { buildIndex, http, serve, tempDir, writeIndex } from '../service/helpers.js';
import { badErrorAnswer } from './helpers.js';

const root = tempDir(t);
const dir = join(root, 'indexes');
mkdirSync(dir);
writeIndex(dir, 'words', buildIndex('words', { items: 50, dimensions: 4, ids: Array.from({ length: 50 }, (_, i) => `w${i}`) }));
// A valid index one level up: no name may reach it.
writeIndex(root, 'outside', buildIndex('outside', { items: 20, dimensions: 4 }));

const clean = (t: Test, r: { status: number; headers: Record<string, unknown>; text: string }, status: number, what: string) => {
  t.equal(r.status, status, `${what}: ${status}`);
  t.equal(badErrorAnswer(r.status, String(r.headers['content-type']), r.text, [root]), null, `${what}: clean body`);
};

t.test('API keys: several accepted, checked on every query route whatever the URL spelling', async (t) => {
  const s = await serve(t, dir, { apiKey: 'k-zero', apiKeys: ['k-one', 'k-two'] });
  for (const key of ['k-zero', 'k-one', 'k-two']) {
    t.equal((await http(s.url, 'GET', '/v1/indexes', undefined, { authorization: `Bearer ${key}` })).status, 200, `bearer ${key}`);
    t.equal((await http(s.url, 'GET', '/v1/indexes/words/items/w1', undefined, { 'x-api-key': key })).status, 200, `x-api-key ${key}`);
  }
  // The scheme name is case-insensitive (RFC 9110): some clients and proxies send it in lower case.
  for (const header of ['bearer k-one', 'BEARER k-one', 'Bearer  k-one']) {
    t.equal((await http(s.url, 'GET', '/v1/indexes', undefined, { authorization: header })).status, 200, JSON.stringify(header));
  }
  const attempts: [string, string, Record<string, string>][] = [
    ['/v1/indexes', 'no key', {}],
    ['/v1/indexes', 'wrong key', { authorization: 'Bearer k-three' }],
    ['/v1/indexes', 'lower-case scheme, wrong key', { authorization: 'bearer k-three' }],
    ['/v1/indexes', 'no space after the scheme', { authorization: 'Bearerk-one' }],
    ['/v1/indexes', 'another scheme', { authorization: 'Basic k-one' }],
    ['/v1/indexes', 'key with a suffix', { authorization: 'Bearer k-one2' }],
    ['/v1/indexes', 'prefix of a key', { authorization: 'Bearer k-on' }],
    ['/v1/indexes', 'two keys joined', { authorization: 'Bearer k-one,k-two' }],
    ['/v1/%69ndexes', 'percent-encoded path', {}],
    ['/v1/indexes/', 'trailing slash', {}],
    ['/v1/indexes/%77ords/items/w1', 'encoded name', {}],
    ['/v1/indexes/words/items/w1/neighbors', 'neighbours', {}],
    ['/v1/indexes/words/distance?a=w1&b=w2', 'distance', {}],
  ];
  for (const [path, what, headers] of attempts) {
    const r = await http(s.url, 'GET', path, undefined, headers);
    t.ok(r.status === 401 || r.status === 404, `${what}: refused (${r.status})`);
    t.notOk(r.text.includes('"ids"') || r.text.includes('"indexes"'), `${what}: no data`);
  }
  clean(t, await http(s.url, 'POST', '/v1/indexes/words/search', { vector: [1, 2, 3, 4] }), 401, 'search without key');
  t.equal((await http(s.url, 'POST', '/v1/indexes/words/search', { vector: [1, 2, 3, 4] }, { authorization: 'Bearer k-two' })).status, 200);
  for (const open of ['/healthz', '/readyz', '/metrics', '/openapi.json']) t.equal((await http(s.url, 'GET', open)).status, 200, `${open} stays open`);
  t.same(loadConfig([], { NNSERVE_API_KEYS: ' a, b,,c ' }).apiKeys, ['a', 'b', 'c'], 'NNSERVE_API_KEYS is a comma-separated list');
  t.same(loadConfig(['--api-keys', 'x,y'], {}).apiKeys, ['x', 'y']);
});

t.test('admin routes: off by default, their own token, API keys do not open them', async (t) => {
  const plain = await serve(t, dir);
  clean(t, await http(plain.url, 'POST', '/v1/admin/reload', undefined, { authorization: 'Bearer anything' }), 404, 'admin off by default');
  const s = await serve(t, dir, { apiKeys: ['user-key'], adminToken: 'admin-token' });
  clean(t, await http(s.url, 'POST', '/v1/admin/reload', undefined, { authorization: 'Bearer user-key' }), 401, 'an API key is not an admin token');
  clean(t, await http(s.url, 'GET', '/v1/indexes', undefined, { authorization: 'Bearer admin-token' }), 401, 'the admin token is not an API key');
  t.equal((await http(s.url, 'POST', '/v1/admin/reload', undefined, { authorization: 'bearer admin-token' })).status, 200, 'the admin scheme is case-insensitive too');
  t.equal((await http(s.url, 'POST', '/v1/admin/reload', undefined, { authorization: 'Bearer admin-token' })).status, 200, 'admin token works');
});

t.test('rate limiting: off by default; when on, 429 with Retry-After on /v1 only, wrong keys count too', async (t) => {
  const off = await serve(t, dir);
  const statuses = await Promise.all(Array.from({ length: 60 }, () => http(off.url, 'GET', '/v1/indexes').then((r) => r.status)));
  t.ok(
    statuses.every((s) => s === 200),
    'no limit by default',
  );
  const s = await serve(t, dir, { rateLimitMax: 5, rateLimitWindowMs: 60_000 });
  for (let i = 0; i < 5; i++) t.equal((await http(s.url, 'GET', '/v1/indexes/words')).status, 200, `request ${i + 1} of 5`);
  const limited = await http(s.url, 'GET', '/v1/indexes/words');
  clean(t, limited, 429, 'sixth request');
  // It said "per <time left in the window>": 8 requests per 19 seconds with a 20 s window.
  t.match(JSON.parse(limited.text).message, /^rate limit exceeded: at most 5 requests per 60000 ms; retry in \d+ seconds? \(Retry-After\)$/, 'the message names the window and, apart, the time left');
  t.match(String(limited.headers['retry-after']), /^\d+$/, 'Retry-After in seconds');
  t.ok(Number(limited.headers['retry-after']) > 0 && Number(limited.headers['retry-after']) <= 60);
  t.equal(limited.headers['x-ratelimit-limit'], '5');
  for (const open of ['/healthz', '/readyz', '/metrics']) t.equal((await http(s.url, 'GET', open)).status, 200, `${open} is not limited`);
  const keyed = await serve(t, dir, { apiKeys: ['right'], rateLimitMax: 3, rateLimitWindowMs: 60_000 });
  for (let i = 0; i < 3; i++) t.equal((await http(keyed.url, 'GET', '/v1/indexes', undefined, { authorization: `Bearer guess-${i}` })).status, 401);
  clean(t, await http(keyed.url, 'GET', '/v1/indexes', undefined, { authorization: 'Bearer right' }), 429, 'key guessing is rate limited');
  t.same(loadConfig([], { NNSERVE_RATE_LIMIT_MAX: '100', NNSERVE_RATE_LIMIT_WINDOW_MS: '1000' }), { ...loadConfig([], {}), rateLimitMax: 100, rateLimitWindowMs: 1000 });
});

t.test('index names cannot leave the index directory', async (t) => {
  const s = await serve(t, dir);
  const names = ['..%2Foutside', '%2e%2e%2Foutside', '..%2F..%2Findexes%2F..%2Foutside', 'outside', '.%2F..%2Foutside', '..%5Coutside', '%2Foutside'];
  for (const name of names) {
    for (const path of [`/v1/indexes/${name}`, `/v1/indexes/${name}/items/1`, `/v1/indexes/${name}/items/1/neighbors`]) {
      const r = await http(s.url, 'GET', path);
      t.ok(r.status === 404 || r.status === 400, `${path}: ${r.status}`);
      t.equal(badErrorAnswer(r.status, String(r.headers['content-type']), r.text, [root]), null, `${path}: clean body`);
    }
  }
  t.same(
    (await http(s.url, 'GET', '/v1/indexes')).body.indexes.map((i: { name: string }) => i.name),
    ['words'],
    'only the directory’s own index is served',
  );
});

t.test('an unknown id is quoted in its 404 by its start and length, not echoed whole', async (t) => {
  const s = await serve(t, dir);
  const long = 'x'.repeat(3_000_000);
  for (const [what, path, body] of [
    ['item', '/search', { item: long }],
    ['queries[0].item', '/search/batch', { queries: [{ item: long }] }],
  ] as const) {
    const r = await http(s.url, 'POST', `/v1/indexes/words${path}`, body);
    clean(t, r, 404, what);
    t.ok(r.text.length < 1000, `${what}: a ${r.text.length}-byte answer to a 3 MB id`);
    t.equal(r.body.message, `${what} "${'x'.repeat(200)}"… (3000000 characters) not found in index "words"`, `${what}: start and length`);
  }
  const short = await http(s.url, 'POST', '/v1/indexes/words/search', { item: 'y'.repeat(200) });
  t.equal(short.body.message, `item "${'y'.repeat(200)}" not found in index "words"`, 'an id of 200 characters is quoted whole');
});

t.test('security headers on answers and errors; Swagger UI still loads', async (t) => {
  const s = await serve(t, dir);
  const ok = await http(s.url, 'GET', '/v1/indexes/words');
  const err = await http(s.url, 'GET', '/v1/indexes/nope');
  for (const [what, r] of [['200', ok], ['404', err]] as const) {
    t.equal(r.headers['x-content-type-options'], 'nosniff', `${what}: nosniff`);
    t.equal(r.headers['x-frame-options'], 'DENY', `${what}: no framing`);
    t.equal(r.headers['referrer-policy'], 'no-referrer', `${what}: no referrer`);
    t.equal(r.headers['content-security-policy'], "default-src 'none'; frame-ancestors 'none'", `${what}: CSP`);
  }
  t.equal(err.headers['cache-control'], 'no-store', 'error bodies are not cached');
  t.notOk(ok.headers['cache-control'], 'answers keep default caching');
  const docs = await http(s.url, 'GET', '/docs');
  t.equal(docs.status, 200, '/docs');
  t.match(docs.text, /swagger-ui/i);
  t.notMatch(String(docs.headers['content-security-policy']), /default-src 'none'/, 'docs are not blocked by the API policy');
  t.match(String(docs.headers['content-security-policy']), /frame-ancestors 'none'/);
  const scripts = [...docs.text.matchAll(/src="\.?\/?([^"]+\.js)"/g)].map((m) => m[1]);
  t.ok(scripts.length > 0, 'the page loads scripts');
  for (const src of scripts) {
    const path = src.startsWith('docs/') ? `/${src}` : `/docs/${src.replace(/^\.\//, '')}`;
    t.equal((await http(s.url, 'GET', path)).status, 200, `${path} loads`);
  }
  const connect = await import('./helpers.js').then((h) => h.rawExchange(s.port, ['CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n']));
  t.equal(connect.status, 405, 'CONNECT gets an answer, not a dropped connection');
});

t.test('behind a proxy: NNSERVE_TRUST_PROXY makes the rate limit and the access log see clients, not the proxy', async (t) => {
  const from = (client: string) => ({ 'x-forwarded-for': client });
  // Not trusted (the default): every client behind the proxy shares the proxy's budget.
  const shared = await serve(t, dir, { rateLimitMax: 2, rateLimitWindowMs: 60_000 });
  for (const client of ['203.0.113.1', '203.0.113.2']) t.equal((await http(shared.url, 'GET', '/v1/indexes/words', undefined, from(client))).status, 200);
  t.equal((await http(shared.url, 'GET', '/v1/indexes/words', undefined, from('203.0.113.3'))).status, 429, 'a third client is limited with the others');
  // The test client is the proxy, on loopback: trusted, each forwarded client has its own budget.
  const perClient = await serve(t, dir, { rateLimitMax: 2, rateLimitWindowMs: 60_000, trustProxy: loadConfig([], { NNSERVE_TRUST_PROXY: 'loopback' }).trustProxy });
  for (let i = 0; i < 2; i++) t.equal((await http(perClient.url, 'GET', '/v1/indexes/words', undefined, from('203.0.113.1'))).status, 200);
  t.equal((await http(perClient.url, 'GET', '/v1/indexes/words', undefined, from('203.0.113.1'))).status, 429, 'one client over its budget');
  t.equal((await http(perClient.url, 'GET', '/v1/indexes/words', undefined, from('203.0.113.2'))).status, 200, 'another client has its own');
  // A hop count trusts that many proxies: a client cannot spoof its way past the nearest one.
  const oneHop = await serve(t, dir, { rateLimitMax: 1, rateLimitWindowMs: 60_000, trustProxy: loadConfig(['--trust-proxy', '1'], {}).trustProxy });
  t.equal((await http(oneHop.url, 'GET', '/v1/indexes/words', undefined, from('198.51.100.7, 203.0.113.9'))).status, 200);
  t.equal((await http(oneHop.url, 'GET', '/v1/indexes/words', undefined, from('198.51.100.8, 203.0.113.9'))).status, 429, 'keyed by the address the trusted hop saw, not the spoofable first one');
});

t.test('NNSERVE_TRUST_PROXY takes true, false, a hop count or addresses, and refuses anything else', async (t) => {
  const parse = (value: string) => loadConfig([], { NNSERVE_TRUST_PROXY: value }).trustProxy;
  t.equal(loadConfig([], {}).trustProxy, false, 'off by default');
  t.equal(parse('true'), true);
  t.equal(parse('false'), false);
  t.equal(parse('2'), 2);
  t.same(parse('loopback, 10.0.0.0/8,fd00::/8, 192.168.1.7'), ['loopback', '10.0.0.0/8', 'fd00::/8', '192.168.1.7']);
  for (const bad of ['10.0.0.0/33', 'ingress.local', '10.0.0/8', '1.2.3.4/8/1', ' , ']) {
    t.throws(() => parse(bad), /^NNSERVE_TRUST_PROXY: /, JSON.stringify(bad));
  }
});
