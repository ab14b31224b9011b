import t from 'tap';
import { request } from 'undici';
import { ConfigError, loadConfig } from '../../src/service/config.js';
import { buildIndex, http, serve, tempDir, writeIndex } from './helpers.js';

const SHOP = 'https://shop.example.com';
const dir = tempDir(t);
writeIndex(dir, 'words', buildIndex('words', { metric: 'euclidean', dimensions: 4, items: 50, seed: 2 }));

/** A browser's preflight before a JSON POST with an API key. */
async function preflight(base: string, origin: string, method = 'POST') {
  const res = await request(`${base}/v1/indexes/words/search`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'content-type,x-api-key' },
  });
  await res.body.text();
  return res;
}

t.test('with origins configured, pages on those origins may call the API', async (t) => {
  const server = await serve(t, dir, { corsOrigins: [SHOP], apiKeys: ['k1'], rateLimitMax: 1000 });
  const base = server.url;

  const ok = await preflight(base, SHOP);
  t.equal(ok.statusCode, 204, 'preflight answered without an API key');
  t.equal(ok.headers['access-control-allow-origin'], SHOP);
  t.match(String(ok.headers['access-control-allow-methods']), /POST/);
  t.match(String(ok.headers['access-control-allow-headers']), /x-api-key/);
  t.equal(ok.headers['access-control-max-age'], '600');

  const search = await http(base, 'POST', '/v1/indexes/words/search', { vector: [0, 0, 0, 0], n: 3 }, { origin: SHOP, 'x-api-key': 'k1' });
  t.equal(search.status, 200);
  t.equal(search.body.ids.length, 3);
  t.equal(search.headers['access-control-allow-origin'], SHOP, 'the answer names the origin');
  t.match(String(search.headers.vary), /origin/i, 'caches keep answers per origin');
  t.match(String(search.headers['access-control-expose-headers']), /x-request-id/, 'the page may read the request id');

  const denied = await http(base, 'GET', '/v1/indexes', undefined, { origin: SHOP });
  t.equal(denied.status, 401, 'the API key is still required');
  t.equal(denied.headers['access-control-allow-origin'], SHOP, 'and the page can read the 401');

  const other = await preflight(base, 'https://evil.example.net');
  t.equal(other.headers['access-control-allow-origin'], undefined, 'another origin is not allowed');
  const otherGet = await http(base, 'GET', '/v1/indexes', undefined, { origin: 'https://evil.example.net', 'x-api-key': 'k1' });
  t.equal(otherGet.status, 200, 'a non-browser caller is unaffected');
  t.equal(otherGet.headers['access-control-allow-origin'], undefined);
});

t.test('* allows any origin', async (t) => {
  const server = await serve(t, dir, { corsOrigins: ['*'] });
  const res = await preflight(server.url, 'http://localhost:3000', 'GET');
  t.equal(res.statusCode, 204);
  t.equal(res.headers['access-control-allow-origin'], '*');
  const get = await http(server.url, 'GET', '/v1/indexes/words', undefined, { origin: 'http://localhost:3000' });
  t.equal(get.status, 200);
  t.equal(get.headers['access-control-allow-origin'], '*');
});

t.test('off by default: no CORS headers, and a preflight finds no route', async (t) => {
  const server = await serve(t, dir);
  const res = await preflight(server.url, SHOP);
  t.equal(res.statusCode, 404);
  t.equal(res.headers['access-control-allow-origin'], undefined);
  const get = await http(server.url, 'GET', '/v1/indexes', undefined, { origin: SHOP });
  t.equal(get.status, 200);
  t.equal(get.headers['access-control-allow-origin'], undefined);
});

t.test('the setting takes origins, and refuses what a browser would never send', async (t) => {
  t.same(loadConfig(['--cors-origins', `${SHOP}, http://localhost:3000`]).corsOrigins, [SHOP, 'http://localhost:3000']);
  t.same(loadConfig([], { NNSERVE_CORS_ORIGINS: '*' }).corsOrigins, ['*']);
  t.same(loadConfig([], {}).corsOrigins, [], 'unset by default');
  for (const bad of [`${SHOP}/`, `${SHOP}/app`, 'shop.example.com', 'ftp://files.example.com']) {
    t.throws(() => loadConfig(['--cors-origins', bad]), ConfigError, bad);
    t.throws(() => loadConfig(['--cors-origins', bad]), { message: /is not an origin; expected scheme:\/\/host\[:port\]/ }, `${bad}: says what is expected`);
  }
});
