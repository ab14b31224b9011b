import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * Per-request bookkeeping: echoes the request id, observes the HTTP latency histogram under the
 * route pattern (not the raw URL: ids in paths would explode label cardinality) and writes one
 * access-log line. Bodies, query vectors and headers are never logged.
 */
async function observability(app: FastifyInstance, options: { accessLog: boolean }): Promise<void> {
  const histogram = app.nn.metrics.httpDuration;
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  // While shutting down, close each connection after its response, so keep-alive clients cannot
  // hold the server open past the in-flight requests.
  const lifecycle = app.nn.lifecycle;
  app.addHook('onSend', async (_request, reply, payload) => {
    if (lifecycle.shuttingDown) reply.header('connection', 'close');
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    histogram.observe({ route, method: request.method, status: String(reply.statusCode) }, seconds);
    if (options.accessLog) {
      request.log.info({ method: request.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 1000) / 1000 }, 'request completed');
    }
  });
}

export default fp(observability, { name: 'nnserve-observability', dependencies: ['nnserve-core'] });
