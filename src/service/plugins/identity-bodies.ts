import type { FastifyInstance, preParsingHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { errors } from '../errors.js';
import { addRouteHook } from './route-hooks.js';

/**
 * Request bodies are read as sent: nothing inflates gzip or br. Without this check a compressed body
 * reached the JSON parser and came back as "Body is not valid JSON", and a plain body labelled gzip
 * was accepted. Only routes that take a body are checked.
 */
async function identityBodies(app: FastifyInstance): Promise<void> {
  const check: preParsingHookHandler = (request, _reply, payload, done) => {
    const coding = request.headers['content-encoding'];
    if (coding === undefined || coding.trim().toLowerCase() === 'identity') done(null, payload);
    else done(errors.compressedBody(coding));
  };
  app.addHook('onRoute', (route) => {
    if (route.schema?.body) addRouteHook(route, 'preParsing', check, 'first');
  });
}

export default fp(identityBodies, { name: 'nnserve-identity-bodies' });
