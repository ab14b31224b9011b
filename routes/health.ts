import type { FastifyPluginAsync } from 'fastify';
import { errorBody } from '../src/service/errors.js';
import { ref, shuttingDown } from './schemas.js';

const statusSchema = {
  type: 'object',
  required: ['status'],
  properties: { status: { type: 'string' }, indexes: { type: 'integer', description: 'Indexes being served.' } },
} as const;

/** Liveness and readiness probes. */
const health: FastifyPluginAsync = async (app) => {
  app.get(
    '/healthz',
    { schema: { tags: ['operations'], summary: 'Liveness: the process answers', response: { 200: { description: 'The process is up.', ...statusSchema }, ...shuttingDown } } },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary: 'Readiness: initial index load finished and not shutting down',
        description: 'An index file that fails validation at start-up does not keep the service unready (it is logged and counted in nnserve_index_swaps_total{result="rejected"}), unless its name is in NNSERVE_REQUIRE_INDEXES.',
        response: { 200: { description: 'Ready for traffic.', ...statusSchema }, 503: { description: 'Still loading, a required index not served, or shutting down.', ...ref.error } },
      },
    },
    async (_request, reply) => {
      const { lifecycle, registry } = app.nn;
      if (lifecycle.shuttingDown) return reply.code(503).send(errorBody(503, 'shutting down'));
      if (!lifecycle.loaded) return reply.code(503).send(errorBody(503, 'indexes still loading'));
      const missing = registry.notServed(app.nn.config.requiredIndexes);
      if (missing.length > 0) {
        // Probes answer without credentials: the reasons stay on the authenticated /v1/indexes routes.
        const why = missing.map((name) => (registry.rejection(name) ? `${name} (rejected; GET /v1/indexes says why)` : name));
        return reply.code(503).send(errorBody(503, `required indexes not served: ${why.join('; ')}`));
      }
      return { status: 'ready', indexes: registry.names().length };
    },
  );
};

export default health;
