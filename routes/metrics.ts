import type { FastifyPluginAsync } from 'fastify';
import { shuttingDown } from './schemas.js';

/** Prometheus scrape endpoint. */
const metrics: FastifyPluginAsync = async (app) => {
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics (text exposition format)',
        // Per status, not `produces`: that would make the document call the JSON 503 text/plain too.
        response: {
          200: { description: 'The metrics in Prometheus text format 0.0.4.', content: { 'text/plain': { schema: { type: 'string', description: 'The metrics in Prometheus text format 0.0.4.' } } } },
          ...shuttingDown,
        },
      },
    },
    async (_request, reply) => {
      const registry = app.nn.metrics.registry;
      const body = await registry.metrics();
      return reply.type(registry.contentType).send(body);
    },
  );
};

export default metrics;
