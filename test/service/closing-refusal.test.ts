/**
 * A request that reaches the server once it has started closing (on a connection already carrying
 * one, which the closing listener does not drop) is refused like any other answer: the one error
 * shape with Retry-After, its request id, the security headers, the latency histogram and the access
 * line. Fastify's own answer for it (return503OnClosing) had none of them.
 */
import { connect } from 'node:net';
import t from 'tap';
import { serveLogged } from '../reliability/helpers.js';
import { metric, tempDir, waitFor } from './helpers.js';

t.test('a request arriving while the server closes: 503 with our error shape, request id, metrics and access line', async (t) => {
  const { server, logs } = await serveLogged(t, tempDir(t), { accessLog: true });
  const socket = connect(server.port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  let received = '';
  socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  // Half a request: the connection is busy, so closing the listener leaves it open.
  socket.write('GET /v1/indexes HTTP/1.1\r\nHost: x\r\nx-request-id: late-caller-1\r\n');
  await new Promise((resolve) => setTimeout(resolve, 250));
  const stopped = server.shutdown('test');
  await waitFor(() => (server.app.server.listening ? undefined : true), 200, 5);
  socket.end('\r\n');
  await closed;
  t.equal(await stopped, 0, 'the shutdown itself is clean');

  const head = received.slice(0, received.indexOf('\r\n\r\n'));
  const body = received.slice(received.indexOf('\r\n\r\n') + 4);
  t.match(head, /^HTTP\/1\.1 503 /);
  t.match(head, /\r\nx-request-id: late-caller-1\r\n/i, 'the caller\'s request id');
  t.match(head, /\r\nretry-after: 1\r\n/i);
  t.match(head, /\r\nx-content-type-options: nosniff\r\n/i, 'the security headers');
  t.match(head, /\r\nconnection: close\r\n/i);
  t.same(JSON.parse(body), { statusCode: 503, error: 'Service Unavailable', message: 'server is shutting down' });
  const scrape = await server.app.nn.metrics.registry.metrics();
  t.equal(metric(scrape, 'nnserve_http_request_duration_seconds_count', { route: '/v1/indexes', method: 'GET', status: '503' }), 1, 'in the latency histogram');
  t.same(
    logs.find('request completed', { reqId: 'late-caller-1' }).map((l) => [l.route, l.status]),
    [['/v1/indexes', 503]],
    'one access line',
  );
});
