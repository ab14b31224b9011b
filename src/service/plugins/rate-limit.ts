import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { errors } from '../errors.js';
import { addRouteHook } from './route-hooks.js';

/**
 * Optional per-address rate limit on the `/v1/…` routes (probes, metrics and docs are exempt, so
 * an orchestrator never sees a throttled probe). The limiter runs before any other hook of the
 * route, so wrong API keys and admin tokens count against the limit too (no free guessing).
 */
async function limits(app: FastifyInstance, options: { max: number; windowMs: number }): Promise<void> {
  await app.register(rateLimit, {
    global: false,
    max: options.max,
    timeWindow: options.windowMs,
    // The plugin sets Retry-After (seconds) and the x-ratelimit-* headers before this is thrown.
    // Its `context.after` is the time left in the window, not the window: both are named here.
    errorResponseBuilder: (_request, context) => {
      const left = Math.ceil(context.ttl / 1000);
      return errors.rateLimited(`rate limit exceeded: at most ${context.max} requests per ${options.windowMs} ms; retry in ${left} second${left === 1 ? '' : 's'} (Retry-After)`);
    },
  });
  const limiter = app.rateLimit() as onRequestHookHandler;
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/v1/')) addRouteHook(route, 'onRequest', limiter, 'first');
  });
}

export default fp(limits, { name: 'nnserve-rate-limit' });
