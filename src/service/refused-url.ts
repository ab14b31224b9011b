import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { recordResponse, stampResponse, UNMATCHED } from './plugins/observability.js';
import { setSecurityHeaders } from './plugins/security-headers.js';

/**
 * Answers a URL the router refuses before any route or hook is involved (a path segment over the
 * length limit, broken percent-encoding). Fastify runs no hooks for these, so this gives them what
 * the hooks give every other answer: request id, security headers, the latency metric and the access
 * line; without it they were invisible in both. The access line's `ip` is the peer's address here:
 * Fastify builds these requests without its trustProxy logic.
 */
export function answerRefusedUrl(app: FastifyInstance, accessLog: boolean, request: FastifyRequest, reply: FastifyReply, status: number, body: object): FastifyReply {
  const started = performance.now();
  reply.code(status);
  stampResponse(request, reply, app.nn.lifecycle.shuttingDown);
  setSecurityHeaders(request, reply);
  reply.raw.once('finish', () => recordResponse(app.nn.metrics, accessLog ? app.log : null, request, UNMATCHED, status, performance.now() - started));
  return reply.send(body);
}
