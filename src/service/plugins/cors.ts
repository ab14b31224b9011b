import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * CORS for web pages on other origins that call the API from a browser (off unless origins are
 * configured). Preflights go to the plugin's own OPTIONS route, which neither the API-key check nor
 * the rate limit is attached to: browsers send preflights without credentials. The headers are set
 * in onRequest, before any check can fail, so a page can read a 401 or 429 as well as a 200.
 */
async function crossOrigin(app: FastifyInstance, options: { origins: readonly string[] }): Promise<void> {
  await app.register(cors, {
    origin: options.origins.includes('*') ? '*' : [...options.origins],
    methods: ['GET', 'POST'],
    allowedHeaders: ['content-type', 'authorization', 'x-api-key', 'x-request-id'],
    exposedHeaders: ['x-request-id', 'retry-after', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'],
    // Browsers cache a preflight this long (Chrome caps it at 2 hours).
    maxAge: 600,
  });
}

export default fp(crossOrigin, { name: 'nnserve-cors' });
