import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * Per-request bookkeeping: echoes the request id, observes the HTTP latency histogram under the
 * route pattern (not the raw URL: ids in paths would explode label cardinality) and writes one
 * access-log line. Bodies, query vectors and headers are never logged.
 *
 * The hooks take callbacks instead of being async: they run on every request, and an async hook
 * costs a promise and a microtask turn each.
 */
async function observability(app: FastifyInstance, options: { accessLog: boolean }): Promise<void> {
  const { metrics, lifecycle } = app.nn;
  const { accessLog } = options;
  // The access line goes through the root logger with the request id as a field: the same JSON line
  // as through the request's child logger, without making that child (see request-logger.ts).
  const log = app.log;
  // Every answer passes onSend (errors and 404s too). While shutting down, each connection is closed
  // after its response, so keep-alive clients cannot hold the server open past the in-flight requests.
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    if (lifecycle.shuttingDown) reply.header('connection', 'close');
    done(null, payload);
  });
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const ms = reply.elapsedTime;
    metrics.observeHttp(route, request.method, reply.statusCode, ms / 1000);
    if (accessLog) {
      log.info({ reqId: request.id, method: request.method, route, status: reply.statusCode, ms: Math.round(ms * 1000) / 1000 }, 'request completed');
    }
    done();
  });
}

export default fp(observability, { name: 'nnserve-observability', dependencies: ['nnserve-core'] });
