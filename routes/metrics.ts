import type { FastifyPluginAsync } from 'fastify';

/** Prometheus scrape endpoint. */
const metrics: FastifyPluginAsync = async (app) => {
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics (text exposition format)',
        produces: ['text/plain'],
        response: { 200: { type: 'string', description: 'The metrics in Prometheus text format 0.0.4.' } },
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
