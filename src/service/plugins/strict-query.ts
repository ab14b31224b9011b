import type { FastifyInstance, preValidationHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { errors } from '../errors.js';
import { addRouteHook } from './route-hooks.js';

const DECIMAL_INTEGER = /^-?\d{1,16}$/;

interface QuerySchema {
  properties?: Record<string, { type?: string }>;
}

/**
 * Query strings are coerced to the schema's types, and Ajv's coercion takes whatever Number()
 * takes: `n=0x10`, `n=%20%203` and `n=1e3` would all pass as integers. Integer parameters must be
 * written in decimal digits; this checks the raw text before the schema coerces it. A parameter
 * given twice (`?n=2&n=3`) is refused as such: the schema alone would say "must be integer" of two
 * integers.
 */
async function strictQuery(app: FastifyInstance): Promise<void> {
  app.addHook('onRoute', (route) => {
    const properties = (route.schema?.querystring as QuerySchema | undefined)?.properties ?? {};
    // An array-typed parameter may repeat; no route has one yet.
    const keys = Object.keys(properties).filter((key) => properties[key].type !== 'array');
    if (keys.length === 0) return;
    const integers = new Set(keys.filter((key) => properties[key].type === 'integer'));
    const check: preValidationHookHandler = (request, _reply, done) => {
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
