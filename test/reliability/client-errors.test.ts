import t from 'tap';
import { buildIndex, http, metric, serve, tempDir, writeIndex } from '../service/helpers.js';
import { badErrorAnswer, rawExchange, serveLogged } from './helpers.js';

// Answers Node gives below Fastify (request timeouts, malformed HTTP, oversized headers, CONNECT)
// must look, count and log like every other answer: before, they had Fastify's bare body, no
// request id or security headers, and appeared in neither the metrics nor the access log.

const dir = tempDir(t);
writeIndex(dir, 'small', buildIndex('small', { dimensions: 4, items: 50 }));

const cases = [
  { status: 408, method: 'unknown', message: /not received in full within 300 ms/, chunks: ['POST /v1/indexes/small/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{"vec'] },
  { status: 400, method: 'unknown', message: /malformed HTTP request \(HPE_/, chunks: ['GET / HTTP/1.1\r\nHost x\r\n\r\n'] },
  { status: 431, method: 'unknown', message: /headers are too large/, chunks: [`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`] },
  { status: 405, method: 'CONNECT', message: /CONNECT is not supported/, chunks: ['CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n'] },
];

t.test('request timeouts, malformed HTTP, oversized headers and CONNECT: clean answers, counted and logged', async (t) => {
  const { server, logs } = await serveLogged(t, dir, { requestTimeoutMs: 300, accessLog: true });
  for (const c of cases) {
    const reply = await rawExchange(server.port, c.chunks, { capMs: 5000 });
    t.equal(reply.status, c.status, `${c.status}: status`);
    t.equal(badErrorAnswer(reply.status, reply.headers['content-type'], reply.body), null, `${c.status}: the one error shape`);
    t.match(JSON.parse(reply.body).message, c.message, `${c.status}: a message saying what went wrong`);
    t.match(reply.headers['x-request-id'], /^[0-9a-f-]{36}$/, `${c.status}: a request id`);
    t.equal(reply.headers['x-content-type-options'], 'nosniff', `${c.status}: security headers`);
    t.equal(reply.headers['cache-control'], 'no-store');
    const line = logs.find('request completed', { reqId: reply.headers['x-request-id'] });
    t.equal(line.length, 1, `${c.status}: one access line under the answer's request id`);
    t.equal(line[0]?.status, c.status);
    t.equal(line[0]?.route, 'unmatched');
    t.equal(line[0]?.ip, '127.0.0.1', `${c.status}: the client's address`);
  }
  const text = (await http(server.url, 'GET', '/metrics')).text;
  for (const c of cases) {
    t.equal(metric(text, 'nnserve_http_request_duration_seconds_count', { route: 'unmatched', method: c.method, status: String(c.status) }), 1, `${c.status} counted once`);
  }
  t.equal((await http(server.url, 'GET', '/v1/indexes/small')).status, 200, 'the server still answers');
});

t.test('request timeout 0 means no limit, on the headers too', async (t) => {
  // Node's own 60 s headers timeout stayed on and answered 408 "not received in full within 0 ms".
  const server = await serve(t, dir, { requestTimeoutMs: 0 });
  t.equal(server.app.server.requestTimeout, 0, 'no limit on the whole request');
  t.equal(server.app.server.headersTimeout, 0, 'no limit on the headers');
  const limited = await serve(t, dir, { requestTimeoutMs: 300 });
  t.ok(limited.app.server.headersTimeout > 0 && limited.app.server.headersTimeout <= 300, 'a set limit covers the headers');
});
