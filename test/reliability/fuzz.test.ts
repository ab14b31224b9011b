/**
 * Hostile-request fuzzing. Every request generated here is wrong in at least one way the server
 * must refuse; the only acceptable answers are 4xx JSON errors (503/504 by design under load).
 * Seeded: NNSERVE_FUZZ_SEED=<n> replays a run, NNSERVE_FUZZ_COUNT=<n> changes its size.
 */
import t from 'tap';
import { Pool } from 'undici';
import { AnnoyIndex, storageFromBytes } from '../../src/annoy/index.js';
import { buildIndex, http, rng, tempDir, writeIndex } from '../service/helpers.js';
import { badErrorAnswer, rawExchange, SERVER_PATHS, serveLogged } from './helpers.js';

const SEED = Number(process.env.NNSERVE_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const COUNT = Number(process.env.NNSERVE_FUZZ_COUNT ?? 10_000);
const RAW_COUNT = Math.max(50, Math.floor(COUNT / 25));
const SLOW_COUNT = 6;
const BODY_LIMIT = 64 * 1024;
const REQUEST_TIMEOUT_MS = 800;
t.comment(`fuzz seed ${SEED}; reproduce with NNSERVE_FUZZ_SEED=${SEED}`);

const dir = tempDir(t);
const wordIds = Array.from({ length: 200 }, (_, i) => `w${i}`);
const words = buildIndex('words', { metric: 'euclidean', dimensions: 8, items: 200, seed: 7, ids: wordIds });
writeIndex(dir, 'words', words);
writeIndex(dir, 'ints', buildIndex('ints', { metric: 'angular', dimensions: 4, items: 50, seed: 3 }));
const { server, logs } = await serveLogged(t, dir, { bodyLimit: BODY_LIMIT, maxBatch: 64, requestTimeoutMs: REQUEST_TIMEOUT_MS, workers: 2 }, 'warn');
const serverPaths = [...SERVER_PATHS, dir];

/** A JSON token written as is (numbers JSON.stringify cannot produce, broken syntax). */
class Raw {
  constructor(readonly text: string) {}
}
function encode(v: unknown): string {
  if (v instanceof Raw) return v.text;
  if (Array.isArray(v)) return `[${v.map(encode).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${encode(x)}`).join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const int = (r: Rand, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const goodVector = (r: Rand, n = 8) => Array.from({ length: n }, () => Math.round((r() * 2 - 1) * 1000) / 1000);
const deep = (depth: number) => new Raw('['.repeat(depth) + ']'.repeat(depth));

const HOSTILE_VALUES = (r: Rand): unknown[] => [
  null, true, false, '', 'NaN', '1e400', [], {}, -1, 0, 1.5, 2 ** 53, -(2 ** 31), 1e308, new Raw('-0'), '\u0000', 'x'.repeat(int(r, 1, 3000)),
  deep(int(r, 2, 3000)), new Raw('1e400'), new Raw('-1e400'), new Raw('1e39'), { __proto__x: 1 }, 'w1', [null], [[1]], '../../etc/passwd',
];

/** Values each field must refuse (checked against the route schemas and QueryService). */
const BAD: Record<string, (r: Rand) => unknown> = {
  vector: (r) =>
    pick(r, [
      () => pick(r, [null, true, 1, 'abc', {}, new Raw('"\\u0000"')]),
      () => goodVector(r, pick(r, [0, 1, 3, 7, 9, 16, 64, int(r, 9, 2000)])),
      () => {
        const v: unknown[] = goodVector(r);
        v[int(r, 0, 7)] = pick(r, ['1', null, true, {}, [], [1], new Raw('1e39'), new Raw('1e400'), new Raw('-1e400'), 'NaN', 'Infinity']);
        return v;
      },
      () => deep(int(r, 2, 20_000)),
      () => Array.from({ length: int(r, 10_000, 20_000) }, () => 0.5),
    ])(),
  n: (r) => pick(r, [0, -1, 1.5, 1001, 2 ** 53, '3', null, true, [], {}, new Raw('1e400'), new Raw('-0'), 1e21]),
  search_k: (r) => pick(r, [0, -2, -1.5, 2_000_000, 2 ** 31, 'x', null, [], new Raw('-1e400'), 1.0000001]),
  include_distances: (r) => pick(r, ['true', 1, 0, null, [], 'yes', {}]),
  exclude: (r) => pick(r, ['w1', 5, null, {}, [1.5], [null], [{}], [[]], [true], Array.from({ length: 1001 }, (_, i) => `w${i}`)]),
};

/** Unknown field names, including prototype-pollution attempts. */
const UNKNOWN_KEYS = ['k', 'N', 'vectors', '__proto__', 'constructor', 'prototype', '', ' vector', 'vector\u0000', '\ud83d\ude00', 'toString', 'hasOwnProperty'];

interface Req {
  kind: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

/** Applies 1–3 faults to a valid search body; at least one is a guaranteed refusal. */
function searchBody(r: Rand, dims: number): { body: Record<string, unknown>; faults: string[] } {
  const body: Record<string, unknown> = { vector: goodVector(r, dims), n: int(r, 1, 20), search_k: pick(r, [-1, 100, 1000]), include_distances: r() < 0.5 };
  const faults: string[] = [];
  const count = int(r, 1, 3);
  for (let i = 0; i < count; i++) {
    const kind = pick(r, ['field', 'field', 'field', 'unknown', 'missing']);
    if (kind === 'field') {
      const field = pick(r, Object.keys(BAD));
      body[field] = BAD[field](r);
      faults.push(`bad ${field}`);
    } else if (kind === 'unknown') {
      const key = pick(r, UNKNOWN_KEYS);
      Object.defineProperty(body, key, { value: pick(r, HOSTILE_VALUES(r)), enumerable: true, configurable: true, writable: true });
      faults.push(`unknown ${JSON.stringify(key)}`);
    } else {
      delete body.vector;
      faults.push('no vector');
    }
  }
  return { body, faults };
}

function batchBody(r: Rand): { body: Record<string, unknown>; faults: string[] } {
  const good = () => (r() < 0.5 ? { vector: goodVector(r) } : { item: pick(r, wordIds) });
  const queries: unknown[] = Array.from({ length: int(r, 1, 5) }, good);
  const faults: string[] = [];
  const which = int(r, 0, 6);
  if (which === 0) {
    faults.push('empty queries');
    queries.length = 0;
  } else if (which === 1) {
    faults.push('too many queries');
    while (queries.length <= 64) queries.push(good());
  } else if (which === 2) {
    faults.push('vector and item');
    queries[0] = { vector: goodVector(r), item: 'w1' };
  } else if (which === 3) {
    faults.push('bad item');
    queries[int(r, 0, queries.length - 1)] = { item: pick(r, [1.5, null, true, {}, [], 'no-such-item', -1, 2 ** 40, '../w1', 'w1\u0000']) };
  } else if (which === 4) {
    faults.push('bad vector');
    queries[int(r, 0, queries.length - 1)] = { vector: BAD.vector(r) };
  } else if (which === 5) {
    faults.push('unknown query key');
    queries[0] = { ...good(), [pick(r, UNKNOWN_KEYS) || 'x']: 1 };
  } else {
    faults.push('queries not an array');
    return { body: { queries: pick(r, [null, {}, 'x', 1, { vector: goodVector(r) }]) }, faults };
  }
  const body: Record<string, unknown> = { queries, n: int(r, 1, 10) };
  if (r() < 0.3) {
    const field = pick(r, ['n', 'search_k', 'include_distances']);
    body[field] = BAD[field](r);
    faults.push(`bad ${field}`);
  }
  return { body, faults };
}

/** Index names and ids that must never reach a file or a served index. */
const HOSTILE_NAMES = [
  '..', '.', '..%2F..%2Fetc%2Fpasswd', '%2e%2e', '%2e%2e%2f%2e%2e%2fetc', 'words%00', '%00', 'words%2F..%2Fwords', '....%2F%2F', '%252e%252e%252f',
  '%c0%ae%c0%ae', 'WORDS', 'words.ann', 'words.json', 'words.ids', '.words', 'words%20', '%20words', 'words%0a', 'w%6fr%64s%00', 'a'.repeat(300), '%E2%80%AEsdrow',
  'con', 'nul', '~', '%7e', '..%5c..%5cwindows', 'words;', 'words%3B', '*', '%2A',
];
const HOSTILE_IDS = ['-1', '200', '1e3', '0x10', '01', '%201', '1%20', 'w1%00', '%00', '..%2F..%2Fw1', 'w999', 'W1', '%ff%fe', 'x'.repeat(1000), '99999999999999', 'w1%2F', '%2e%2e', 'NaN', 'Infinity', '1.0'];
const HOSTILE_QS: Record<string, string[]> = {
  n: ['NaN', 'Infinity', '-Infinity', '1e309', '-0', '0', '-1', '1001', '1.5', '', 'abc', '%00', '1%00', '[]', '{}'],
  search_k: ['0', '-2', '1e7', '1.5', 'x', '-1.5', '99999999999'],
  include_distances: ['maybe', '2', 'yes', 'null', '%00', 'TRUEE'],
  exclude_self: ['maybe', '2', '[]'],
};

function pathFuzz(r: Rand): Req {
  const variant = int(r, 0, 5);
  const name = pick(r, HOSTILE_NAMES);
  if (variant === 0) return { kind: 'name', method: 'GET', path: `/v1/indexes/${name}`, headers: {} };
  if (variant === 1) return { kind: 'name', method: 'GET', path: `/v1/indexes/${name}/items/w1/neighbors`, headers: {} };
  if (variant === 2) return { kind: 'name', method: 'POST', path: `/v1/indexes/${name}/search`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ vector: goodVector(r) }) };
  const index = pick(r, ['words', 'ints']);
  if (variant === 3) return { kind: 'id', method: 'GET', path: `/v1/indexes/${index}/items/${pick(r, HOSTILE_IDS)}${r() < 0.5 ? '/neighbors' : ''}`, headers: {} };
  if (variant === 4) {
    const a = r() < 0.5 ? pick(r, HOSTILE_IDS) : index === 'words' ? 'w1' : '1';
    const b = a === 'w1' || a === '1' ? pick(r, HOSTILE_IDS) : pick(r, ['w2', '2', ...HOSTILE_IDS]);
    return { kind: 'id', method: 'GET', path: `/v1/indexes/${index}/distance?a=${a}&b=${b}`, headers: {} };
  }
  // A real item with a hostile query string (one bad parameter, maybe repeated or unknown).
  const item = index === 'words' ? pick(r, wordIds) : String(int(r, 0, 49));
  const params: string[] = [];
  if (r() < 0.25) params.push(pick(r, ['bogus=1', '__proto__=1', 'constructor=x', 'n=1&n=2', 'N=3', '%00=1']));
  else {
    const key = pick(r, Object.keys(HOSTILE_QS));
    params.push(`${key}=${pick(r, HOSTILE_QS[key])}`);
  }
  if (r() < 0.5) params.unshift(`n=${int(r, 1, 5)}`);
  return { kind: 'query', method: 'GET', path: `/v1/indexes/${index}/items/${item}/neighbors?${params.join('&')}`, headers: {} };
}

const ROUTES = ['/v1/indexes', '/v1/indexes/words', '/v1/indexes/words/search', '/v1/indexes/words/search/batch', '/v1/indexes/words/items/w1', '/v1/indexes/words/items/w1/neighbors', '/v1/indexes/words/distance?a=w1&b=w2', '/v1/admin/reload', '/healthz', '/metrics', '/openapi.json'];
const GET_ROUTES = new Set(['/v1/indexes', '/v1/indexes/words', '/v1/indexes/words/items/w1', '/v1/indexes/words/items/w1/neighbors', '/v1/indexes/words/distance?a=w1&b=w2', '/healthz', '/metrics', '/openapi.json']);

function methodFuzz(r: Rand): Req {
  const path = pick(r, ROUTES);
  const method = pick(r, GET_ROUTES.has(path) ? ['PUT', 'DELETE', 'PATCH', 'POST', 'PROPFIND', 'MKCOL', 'LOCK', 'PURGE'] : ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE']);
  const withBody = method !== 'GET' && method !== 'OPTIONS' && method !== 'TRACE' && r() < 0.5;
  return { kind: 'method', method, path, headers: withBody ? { 'content-type': 'application/json' } : {}, body: withBody ? '{"vector":[1,2,3,4,5,6,7,8]}' : undefined };
}

const BAD_TYPES = ['text/plain', 'text/html', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream', 'image/png', 'application/jsonx', 'json', '*/*', 'application/' + 'x'.repeat(3000), 'text/plain; charset=utf-7', 'application/json-patch+json', 'application/vnd.api+json'];

function contentTypeFuzz(r: Rand): Req {
  const body = r() < 0.5 ? JSON.stringify({ vector: goodVector(r) }) : pick(r, ['vector=1', '<vector/>', '--x\r\n\r\n--x--', '\u0000\u0001']);
  const headers: Record<string, string> = r() < 0.1 ? {} : { 'content-type': pick(r, BAD_TYPES) };
  return { kind: 'content-type', method: 'POST', path: pick(r, ['/v1/indexes/words/search', '/v1/indexes/words/search/batch']), headers, body };
}

/** Bodies that are not JSON, or not UTF-8, or far too large. */
function bytesFuzz(r: Rand): Req {
  const path = pick(r, ['/v1/indexes/words/search', '/v1/indexes/words/search/batch']);
  const headers = { 'content-type': pick(r, ['application/json', 'application/json; charset=utf-8', 'application/json; charset=latin1']) };
  const variant = int(r, 0, 6);
  let body: string | Buffer;
  if (variant === 0) {
    // Invalid UTF-8 inside a value of an otherwise refused body.
    body = Buffer.concat([Buffer.from('{"vector":"'), Buffer.from([0xff, 0xfe, 0xc0, 0xaf, 0xed, 0xa0, 0x80]), Buffer.from('"}')]);
  } else if (variant === 1) {
    body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"vector":[1,2,3]}')]);
  } else if (variant === 2) {
    const s = encode({ vector: goodVector(r) });
    body = s.slice(0, int(r, 0, s.length - 1));
  } else if (variant === 3) {
    body = pick(r, ['{"vector":[NaN,1,2,3,4,5,6,7]}', '{"vector":[Infinity,1,2,3,4,5,6,7]}', "{'vector':[1]}", '{"vector":[1,2,3,4,5,6,7,8],}', '{"vector":[1,,3]}', 'null', '[]', '"x"', '1', 'true', '{"vector":[1,2,3,4,5,6,7,8]}{"vector":[1]}', '{"a":1,"a":2}']);
  } else if (variant === 4) {
    body = `{"vector":${'['.repeat(int(r, 1000, 30_000))}`;
  } else if (variant === 5) {
    // Larger than the body limit: 413 before the parser sees it.
    body = `{"vector":[${Array.from({ length: Math.ceil(BODY_LIMIT / 4) + int(r, 1, 5000) }, () => '0.1').join(',')}]}`;
  } else {
    body = `{${Array.from({ length: int(r, 100, 4000) }, (_, i) => `"k${i}":${i}`).join(',')}}`;
  }
  return { kind: 'bytes', method: 'POST', path, headers, body };
}

function generate(k: number): Req {
  const r = rng((SEED ^ Math.imul(k + 1, 0x9e3779b1)) >>> 0);
  const roll = r();
  if (roll < 0.3) {
    const { body, faults } = searchBody(r, 8);
    return { kind: `search: ${faults.join(', ')}`, method: 'POST', path: `/v1/indexes/words/search`, headers: { 'content-type': 'application/json' }, body: encode(body) };
  }
  if (roll < 0.45) {
    const { body, faults } = batchBody(r);
    return { kind: `batch: ${faults.join(', ')}`, method: 'POST', path: `/v1/indexes/words/search/batch`, headers: { 'content-type': 'application/json' }, body: encode(body) };
  }
  if (roll < 0.7) return pathFuzz(r);
  if (roll < 0.8) return methodFuzz(r);
  if (roll < 0.9) return contentTypeFuzz(r);
  return bytesFuzz(r);
}

/** Malformed HTTP that undici would refuse to send, written on raw sockets. */
function rawRequest(k: number): { kind: string; bytes: Buffer } {
  const r = rng((SEED ^ Math.imul(k + 7, 0x85ebca6b)) >>> 0);
  const h = 'Host: x\r\nConnection: close\r\n';
  const cases: [string, string | Buffer][] = [
    ['bad utf-8 in path', Buffer.concat([Buffer.from('GET /v1/indexes/'), Buffer.from([0xff, 0xfe, 0xc0, 0xae]), Buffer.from(` HTTP/1.1\r\n${h}\r\n`)])],
    ['NUL in path', `GET /v1/indexes/words\u0000/items/w1 HTTP/1.1\r\n${h}\r\n`],
    ['raw traversal', `GET /v1/indexes/../../../etc/passwd HTTP/1.1\r\n${h}\r\n`],
    ['absolute-form', `GET http://evil.example/v1/indexes/%2e%2e HTTP/1.1\r\n${h}\r\n`],
    ['asterisk-form', `OPTIONS * HTTP/1.1\r\n${h}\r\n`],
    ['CONNECT', `CONNECT 127.0.0.1:22 HTTP/1.1\r\n${h}\r\n`],
    ['bad method token', `G(T /healthz HTTP/1.1\r\n${h}\r\n`],
    ['bad version', `GET /healthz HTTP/${pick(r, ['9.9', '1.x', 'x.1', '1.'])}\r\n${h}\r\n`],
    ['space in header name', `GET /healthz HTTP/1.1\r\nBad Header: 1\r\n${h}\r\n`],
    ['CL and TE', `POST /v1/indexes/words/search HTTP/1.1\r\n${h}Content-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`],
    ['two content-lengths', `POST /v1/indexes/words/search HTTP/1.1\r\n${h}Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 30\r\n\r\n{}`],
    ['negative content-length', `POST /v1/indexes/words/search HTTP/1.1\r\n${h}Content-Type: application/json\r\nContent-Length: -5\r\n\r\n{}`],
    ['bad chunk size', `POST /v1/indexes/words/search HTTP/1.1\r\n${h}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`],
    ['chunked body over the limit', `POST /v1/indexes/words/search HTTP/1.1\r\n${h}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${(BODY_LIMIT + 100).toString(16)}\r\n${'['.repeat(BODY_LIMIT + 100)}\r\n0\r\n\r\n`],
    ['content-length over the limit', `POST /v1/indexes/words/search HTTP/1.1\r\n${h}Content-Type: application/json\r\nContent-Length: ${BODY_LIMIT * 100}\r\n\r\n{"vector":[`],
    ['huge header', `GET /healthz HTTP/1.1\r\n${h}X-Big: ${'a'.repeat(20_000)}\r\n\r\n`],
    ['bare LF', `GET /healthz HTTP/1.1\nHost: x\nConnection: close\n\n`],
    ['header injection', `GET /healthz HTTP/1.1\r\n${h}X-A: 1\rX-B: 2\r\n\r\n`],
    ['obsolete line folding', `GET /v1/indexes/words HTTP/1.1\r\n${h}X-A: 1\r\n  continued\r\n\r\n`],
    ['binary garbage', Buffer.from(Array.from({ length: int(r, 1, 200) }, () => int(r, 0, 255)))],
  ];
  const [kind, bytes] = pick(r, cases);
  return { kind, bytes: typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes };
}

t.test(`${COUNT} generated hostile requests: only clean 4xx answers, no 5xx, no leaks`, async (t) => {
  // Every answer is expected at once; a request left hanging is reported instead of stalling the run.
  const pool = new Pool(server.url, { connections: 16, pipelining: 1, headersTimeout: 15_000, bodyTimeout: 15_000 });
  t.teardown(() => pool.close());
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  const kinds = new Map<string, number>();
  let next = 0;
  let unsent = 0;
  const one = async (k: number) => {
    const req = generate(k);
    const kind = req.kind.split(':')[0];
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    try {
      const res = await pool.request({ method: req.method, path: req.path, headers: req.headers, body: req.body });
      const text = await res.body.text();
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      const wrong = badErrorAnswer(res.statusCode, res.headers['content-type'] as string | undefined, text, serverPaths);
      if (wrong) failures.push(`#${k} ${req.kind} ${req.method} ${req.path.slice(0, 120)} → ${res.statusCode}: ${wrong} ${text.slice(0, 200)}`);
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      // undici refusing to send something (its own argument checks) is not a server answer.
      if (code === 'UND_ERR_INVALID_ARG') unsent++;
      else failures.push(`#${k} ${req.kind} ${req.method} ${req.path.slice(0, 120)} → no answer: ${code} ${(err as Error).message}`);
    }
  };
  const lanes = Array.from({ length: 32 }, async () => {
    while (next < COUNT) await one(next++);
  });

  // Meanwhile: raw malformed HTTP, and slow bodies that must be cut off by the request timeout.
  const rawFailures: string[] = [];
  const rawLane = (async () => {
    for (let k = 0; k < RAW_COUNT; k++) {
      const { kind, bytes } = rawRequest(k);
      const reply = await rawExchange(server.port, [bytes], { capMs: 5000 });
      const wrong = reply.capped ? 'no answer within 5 s' : badErrorAnswer(reply.status, reply.headers['content-type'], reply.body, serverPaths);
      if (wrong) rawFailures.push(`raw #${k} ${kind} → ${reply.status}: ${wrong} ${reply.body.slice(0, 150)}`);
    }
  })();
  const slow = Promise.all(
    Array.from({ length: SLOW_COUNT }, (_, i) => {
      const head = `POST /v1/indexes/words/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n`;
      // Headers first (or trickled too, for half of them), then one body byte every 150 ms: 40 bytes would take 6 s.
      const chunks = i % 2 === 0 ? [head, ...'{"vector":[1,2,3,4,5,6,7,8],"n":3       }'.split('')] : [...head.match(/[\s\S]{1,6}/g)!];
      return rawExchange(server.port, chunks, { gapMs: 150, capMs: 8000 });
    }),
  );

  await Promise.all(lanes);
  await rawLane;
  const slowReplies = await slow;

  t.comment(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`);
  t.comment(`kinds: ${JSON.stringify(Object.fromEntries(kinds))}; unsent (client-side refusals): ${unsent}; raw: ${RAW_COUNT}; slow: ${SLOW_COUNT}`);
  t.ok(COUNT - unsent >= Math.min(COUNT, 10_000) * 0.98, `${COUNT - unsent} requests reached the server`);
  t.same(failures.slice(0, 20), [], `every answer is a clean 4xx JSON error (${failures.length} failures; seed ${SEED})`);
  t.same(rawFailures.slice(0, 20), [], `malformed HTTP gets a clean 4xx JSON answer (${rawFailures.length} failures; seed ${SEED})`);
  t.equal([...statuses.keys()].filter((s) => s >= 500 && s !== 503 && s !== 504).length, 0, 'no 5xx');
  for (const [i, reply] of slowReplies.entries()) {
    t.notOk(reply.capped, `slow request ${i}: cut off by the server`);
    t.equal(reply.status, 408, `slow request ${i}: 408`);
    t.equal(badErrorAnswer(reply.status, reply.headers['content-type'], reply.body, serverPaths), null, `slow request ${i}: clean body`);
  }
  t.same(
    logs.lines.filter((l) => l.level >= 50).map((l) => l.msg),
    [],
    'no error logged by the server',
  );
});

t.test('the server is unharmed: probes, threads and a correct answer', async (t) => {
  t.equal((await http(server.url, 'GET', '/healthz')).status, 200);
  t.equal((await http(server.url, 'GET', '/readyz')).status, 200);
  t.equal(server.app.nn.pool.threads, 2, 'both query workers alive');
  const engine = AnnoyIndex.open(storageFromBytes(words.ann), 'euclidean', 8);
  const q = [0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8];
  const r = await http(server.url, 'POST', '/v1/indexes/words/search', { vector: q, n: 5 });
  t.equal(r.status, 200);
  t.same(r.body.ids, engine.getNnsByVector(q, 5).ids.map((i) => wordIds[i]), 'same neighbours as the engine');
  const byItem = await http(server.url, 'GET', '/v1/indexes/words/items/w3/neighbors?n=4&include_distances=false');
  t.same(byItem.body.ids, engine.getNnsByItem(3, 4).ids.map((i) => wordIds[i]));
});
