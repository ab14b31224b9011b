import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

const API_CSP = "default-src 'none'; frame-ancestors 'none'";
/** Swagger UI runs its own scripts and styles; only framing is refused there. */
const DOCS_CSP = "frame-ancestors 'none'";

/**
 * Headers that make responses inert in a browser: no MIME sniffing (a JSON error echoing input can
 * never run as HTML), no framing, no referrer, and error bodies never cached by a proxy or browser.
 * Exported for the answers the router gives before any hook can run (see answerRefusedUrl).
 */
export function setSecurityHeaders(request: FastifyRequest, reply: FastifyReply): void {
  reply.header('x-content-type-options', 'nosniff');
  reply.header('x-frame-options', 'DENY');
  reply.header('referrer-policy', 'no-referrer');
  if (!reply.hasHeader('content-security-policy')) {
    reply.header('content-security-policy', request.routeOptions.url?.startsWith('/docs') ? DOCS_CSP : API_CSP);
  }
  if (reply.statusCode >= 400) reply.header('cache-control', 'no-store');
}

/** Sets them in one onSend hook (lighter than a full helmet for a JSON API; a callback hook, not an async one, since it runs on every response). */
async function securityHeaders(app: FastifyInstance): Promise<void> {
  app.addHook('onSend', (request, reply, payload, done) => {
    setSecurityHeaders(request, reply);
    done(null, payload);
  });
}

export default fp(securityHeaders, { name: 'nnserve-security-headers' });
