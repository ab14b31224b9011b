import type { FastifyPluginAsync } from 'fastify';
import { bearerToken, matchesAnySecret } from '../src/service/credentials.js';
import { errors as serviceErrors } from '../src/service/errors.js';
import { IndexDirError, reloadResults } from '../src/service/registry/watcher.js';
import { errors, noQuery } from './schemas.js';

/** POST /v1/admin/reload: reload every index now. Exists only when NNSERVE_ADMIN_TOKEN is set. */
const admin: FastifyPluginAsync<{ token: string }> = async (app, { token }) => {
  const secret = [Buffer.from(token)];
  app.post(
    '/v1/admin/reload',
    {
      schema: {
        tags: ['operations'],
        summary: 'Reload every index from the index directory now',
        description: 'Needs `Authorization: Bearer <NNSERVE_ADMIN_TOKEN>`; answers 404 when no admin token is configured, 503 when the index directory cannot be read. Invalid files are rejected and the old version keeps serving.',
        security: [{ adminToken: [] }],
        querystring: noQuery,
        response: {
          200: {
            description: 'What the reload did, index by index.',
            type: 'object',
            required: ['results'],
            properties: {
              results: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['index', 'result'],
                  properties: {
                    index: { type: 'string' },
                    result: { type: 'string', enum: ['loaded', 'rejected', 'removed'] },
                    version: { type: 'integer', description: 'Version now served (after a successful load).' },
                    reason: { type: 'string', description: 'Why the files were rejected (file names, no server paths).' },
                  },
                },
              },
            },
          },
          ...errors(400, 401, 404),
        },
      },
      onRequest: async (request) => {
        if (!matchesAnySecret(bearerToken(request.headers.authorization), secret)) throw serviceErrors.unauthorized();
      },
    },
    async () => {
      let outcomes;
      try {
        outcomes = await app.nn.watcher.reloadAll();
      } catch (err) {
        if (err instanceof IndexDirError) throw serviceErrors.indexDirUnreadable(err.code);
        throw err;
      }
      return { results: reloadResults(outcomes) };
    },
  );
};

export default admin;
