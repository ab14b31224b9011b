import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { ServiceMetrics } from '../metrics.js';
import type { ClientLink } from '../queries.js';

declare module 'fastify' {
  // The routes hand the request to the queries they start (see ClientLink).
  interface FastifyRequest extends ClientLink {}
}

/** Route label of answers no route produced (404s, URLs the router refuses). */
export const UNMATCHED = 'unmatched';

/** Status recorded for a request whose client closed the connection before its answer was sent (nginx's 499). */
const CLIENT_CLOSED = 499;

/** Headers every answer carries: its request id, and `connection: close` once shutting down. */
export function stampResponse(request: FastifyRequest, reply: FastifyReply, shuttingDown: boolean): void {
  reply.header('x-request-id', request.id);
  // While shutting down, each connection is closed after its response, so keep-alive clients cannot
  // hold the server open past the in-flight requests.
  if (shuttingDown) reply.header('connection', 'close');
}

/** One finished request: the latency histogram under the route pattern, and the access line. */
export function recordResponse(metrics: ServiceMetrics, log: FastifyBaseLogger | null, request: FastifyRequest, route: string, status: number, ms: number): void {
  metrics.observeHttp(route, request.method, status, ms / 1000);
  log?.info({ reqId: request.id, ip: request.ip, method: request.method, route, status, ms: Math.round(ms * 1000) / 1000 }, 'request completed');
}

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
  // The access line goes through the root logger with the request id as a field: the same JSON line
  // as through the request's child logger, without making that child (see request-logger.ts).
  const log = options.accessLog ? app.log : null;
  app.decorateRequest('onClientClosed', null);
  // Every answer passes onSend (errors and 404s too).
  app.addHook('onSend', (request, reply, payload, done) => {
    stampResponse(request, reply, lifecycle.shuttingDown);
    done(null, payload);
  });
  app.addHook('onResponse', (request, reply, done) => {
    recordResponse(metrics, log, request, request.routeOptions.url ?? UNMATCHED, reply.statusCode, reply.elapsedTime);
    done();
  });
  // A client that gives up on its answer (its own timeout, a cancelled request) gets none, and
  // onResponse never runs: without this the request, and the work it caused, left no trace in the
  // access log or the latency histogram, and its queries still waiting for a worker stayed in line.
  // Only whole requests: one whose body never fully arrived is the server's request timeout (408) or
  // a broken upload, not a client waiting for an answer.
  app.addHook('onRequest', (request, reply, done) => {
    // Read now: a closed socket no longer knows its peer, and the access line names the client
    // (the socket keeps the address once read, so the later request.ip costs nothing more).
    void request.raw.socket?.remoteAddress;
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished && request.raw.complete) {
        recordResponse(metrics, log, request, request.routeOptions.url ?? UNMATCHED, CLIENT_CLOSED, reply.elapsedTime);
        request.onClientClosed?.();
      }
    });
    done();
  });
}

export default fp(observability, { name: 'nnserve-observability', dependencies: ['nnserve-core'] });
