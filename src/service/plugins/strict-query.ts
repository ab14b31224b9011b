import type { FastifyInstance, preValidationHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { errors, MALFORMED_URL } from '../errors.js';
import { addRouteHook } from './route-hooks.js';

const DECIMAL_INTEGER = /^-?\d{1,16}$/;

/**
 * Whether the query string percent-decodes. The parser keeps the raw text of a value that does not
 * (`?a=%FF` reads as the id "%FF", `?a=100%` as "100%"), so a broken URL would look up another id
 * instead of being refused as the router refuses the same bytes in the path. `&`, `=` and `+` are
 * plain characters here, so the whole string decodes exactly when each of its parts does.
 */
function decodes(url: string): boolean {
  const start = url.indexOf('?');
  if (start < 0 || !url.includes('%', start)) return true;
  try {
    decodeURIComponent(url.slice(start + 1));
    return true;
  } catch {
    return false;
  }
}

interface QuerySchema {
  properties?: Record<string, { type?: string }>;
}

/**
 * Query strings are coerced to the schema's types, and Ajv's coercion takes whatever Number()
 * takes: `n=0x10`, `n=%20%203` and `n=1e3` would all pass as integers. Integer parameters must be
 * written in decimal digits; this checks the raw text before the schema coerces it. A parameter
 * given twice (`?n=2&n=3`) is refused as such: the schema alone would say "must be integer" of two
 * integers. A query string with broken percent-encoding is refused first, on every route that takes
 * one.
 */
async function strictQuery(app: FastifyInstance): Promise<void> {
  app.addHook('onRoute', (route) => {
    const schema = route.schema?.querystring as QuerySchema | undefined;
    if (schema === undefined) return;
    const properties = schema.properties ?? {};
    // An array-typed parameter may repeat; no route has one yet.
    const keys = Object.keys(properties).filter((key) => properties[key].type !== 'array');
    const integers = new Set(keys.filter((key) => properties[key].type === 'integer'));
    const check: preValidationHookHandler = (request, _reply, done) => {
      if (!decodes(request.url)) {
        done(errors.badInput(MALFORMED_URL));
        return;
      }
      const query = request.query as Record<string, unknown>;
      for (const key of keys) {
        const raw = query[key];
        if (Array.isArray(raw)) {
          done(errors.badInput(`querystring/${key} is given ${raw.length} times; give it once`));
          return;
        }
        if (integers.has(key) && raw !== undefined && (typeof raw !== 'string' || !DECIMAL_INTEGER.test(raw))) {
          done(errors.badInput(`querystring/${key} must be an integer written in decimal digits`));
          return;
        }
      }
      done();
    };
    addRouteHook(route, 'preValidation', check, 'first');
  });
}

export default fp(strictQuery, { name: 'nnserve-strict-query' });
