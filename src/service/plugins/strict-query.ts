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
 * written in decimal digits; this checks the raw text before the schema coerces it.
 */
async function strictQuery(app: FastifyInstance): Promise<void> {
  app.addHook('onRoute', (route) => {
    const properties = (route.schema?.querystring as QuerySchema | undefined)?.properties ?? {};
    const integers = Object.keys(properties).filter((key) => properties[key].type === 'integer');
    if (integers.length === 0) return;
    const check: preValidationHookHandler = (request, _reply, done) => {
      const query = request.query as Record<string, unknown>;
      for (const key of integers) {
        const raw = query[key];
        const values = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
        if (values.some((v) => typeof v !== 'string' || !DECIMAL_INTEGER.test(v))) {
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
