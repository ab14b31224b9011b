import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { errors } from '../errors.js';

function matches(given: string | undefined, expected: Buffer): boolean {
  if (given === undefined) return false;
  const b = Buffer.from(given);
  return b.length === expected.length && timingSafeEqual(b, expected);
}

/** Optional API key on the data routes (`/v1/indexes…`); probes, metrics and docs stay open. */
async function auth(app: FastifyInstance, options: { apiKey: string }): Promise<void> {
  const key = Buffer.from(options.apiKey);
  app.addHook('onRequest', async (request) => {
    if (!request.url.startsWith('/v1/indexes')) return;
    const header = request.headers.authorization;
    const bearer = header?.startsWith('Bearer ') ? header.slice(7) : undefined;
    const apiKey = request.headers['x-api-key'];
    if (matches(bearer, key) || matches(typeof apiKey === 'string' ? apiKey : undefined, key)) return;
    throw errors.unauthorized();
  });
}

export default fp(auth, { name: 'nnserve-auth' });
