import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { bearerToken, matchesAnySecret } from '../credentials.js';
import { errors } from '../errors.js';
import { addRouteHook } from './route-hooks.js';

/** Routes that take API keys when any is configured (openapi.ts declares the same ones in the document). */
export function takesApiKey(url: string): boolean {
  return url.startsWith('/v1/indexes');
}

/**
 * Optional API keys on the data routes (`/v1/indexes…`); probes, metrics and docs stay open.
 * The check is attached to routes by their pattern when they are registered, never decided from
 * the raw URL: `/v1/%69ndexes` reaches the same handler as `/v1/indexes` without starting with
 * the same characters.
 */
async function auth(app: FastifyInstance, options: { apiKeys: readonly string[] }): Promise<void> {
  const keys = options.apiKeys.map((k) => Buffer.from(k));
  // A callback hook, not an async one: it runs on every data request.
  const check: onRequestHookHandler = (request, _reply, done) => {
    const apiKey = request.headers['x-api-key'];
    if (matchesAnySecret(bearerToken(request.headers.authorization), keys) || matchesAnySecret(typeof apiKey === 'string' ? apiKey : undefined, keys)) done();
    else done(errors.unauthorized());
  };
  app.addHook('onRoute', (route) => {
    if (takesApiKey(route.url)) addRouteHook(route, 'onRequest', check, 'last');
  });
}

export default fp(auth, { name: 'nnserve-auth' });
