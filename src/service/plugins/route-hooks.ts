import type { onRequestHookHandler, RouteOptions } from 'fastify';

/**
 * Adds an onRequest hook to one route as it is registered (from an 'onRoute' hook), keeping the
 * hooks the route or other plugins already set. 'first' runs it before them (the rate limit, so
 * failed checks count too), 'last' after them.
 */
export function addRouteHook(route: RouteOptions, hook: onRequestHookHandler, position: 'first' | 'last'): void {
  const existing = route.onRequest as onRequestHookHandler | onRequestHookHandler[] | undefined;
  const others = existing === undefined ? [] : Array.isArray(existing) ? existing : [existing];
  route.onRequest = position === 'first' ? [hook, ...others] : [...others, hook];
}
