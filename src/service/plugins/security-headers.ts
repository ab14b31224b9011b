import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

export const API_CSP = "default-src 'none'; frame-ancestors 'none'";

/** The headers every answer carries whatever it is: also written raw, below Fastify (raw-answers.ts). */
export const INERT_HEADERS: readonly (readonly [string, string])[] = [
  ['x-content-type-options', 'nosniff'],
  ['x-frame-options', 'DENY'],
  ['referrer-policy', 'no-referrer'],
];
/** Swagger UI runs its own scripts and styles; only framing is refused there. */
const DOCS_CSP = "frame-ancestors 'none'";

/**
 * Headers that make responses inert in a browser: no MIME sniffing (a JSON error echoing input can
 * never run as HTML), no framing, no referrer, and error bodies never cached by a proxy or browser.
 * Exported for the answers the router gives before any hook can run (see answerRefusedUrl).
 */
export function setSecurityHeaders(request: FastifyRequest, reply: FastifyReply): void {
  for (const [name, value] of INERT_HEADERS) reply.header(name, value);
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
