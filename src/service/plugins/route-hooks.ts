import type { onRequestHookHandler, preParsingHookHandler, preValidationHookHandler, RouteOptions } from 'fastify';

interface RouteHooks {
  onRequest: onRequestHookHandler;
  preParsing: preParsingHookHandler;
  preValidation: preValidationHookHandler;
}

/**
 * Adds a hook to one route as it is registered (from an 'onRoute' hook), keeping the hooks the
 * route or other plugins already set. 'first' runs it before them (the rate limit, so failed checks
 * count too; the query-string check, before anything reads the values), 'last' after them.
 */
export function addRouteHook<K extends keyof RouteHooks>(route: RouteOptions, name: K, hook: RouteHooks[K], position: 'first' | 'last'): void {
  const existing = route[name] as RouteHooks[K] | RouteHooks[K][] | undefined;
  const others = existing === undefined ? [] : Array.isArray(existing) ? existing : [existing];
  (route as unknown as Record<K, RouteHooks[K][]>)[name] = position === 'first' ? [hook, ...others] : [...others, hook];
}
