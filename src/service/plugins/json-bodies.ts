import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import secureJson from 'secure-json-parse';
import { errors } from '../errors.js';

/** secure-json-parse's message for a "__proto__" or "constructor.prototype" key (it throws the same for both). */
const FORBIDDEN_KEY = 'Object contains forbidden prototype property';

/**
 * JSON bodies, parsed as Fastify's own parser does (secure-json-parse, refusing the keys that
 * poison prototypes), but refused with a message that says what is wrong. Fastify answers every
 * failure "Body is not valid JSON", which leaves someone typing a curl command to find a missing
 * comma by eye, and calls a well-formed body with a "__proto__" key invalid JSON.
 */
async function jsonBodies(app: FastifyInstance): Promise<void> {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, text, done) => {
    if (text.length === 0) {
      done(errors.badInput('body is empty; send a JSON object'), undefined);
      return;
    }
    try {
      done(null, secureJson.parse(text as string, undefined, { protoAction: 'error', constructorAction: 'error' }));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (message === FORBIDDEN_KEY) done(errors.badInput('body must not have "__proto__" or "constructor.prototype" keys (they would change object prototypes)'), undefined);
      else done(errors.badInput(`body is not valid JSON: ${message}`), undefined);
    }
  });
}

export default fp(jsonBodies, { name: 'nnserve-json-bodies' });
