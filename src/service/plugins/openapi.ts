import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { takesApiKey } from './auth.js';

export const OPENAPI_INFO = {
  title: 'nnserve',
  description: 'Approximate nearest-neighbour search over Annoy 1.17 index files. Errors always have the shape {statusCode, error, message}.',
  version: '0.1.0',
};

/**
 * OpenAPI 3.1 document built from the route schemas (3.1 allows `type: [string, integer]`, which
 * the serialiser handles much faster than `anyOf`). Served at /openapi.json; Swagger UI at /docs.
 */
async function openapi(app: FastifyInstance, options: { ui: boolean }): Promise<void> {
  // Keys are optional (only when configured), hence the empty requirement beside the two schemes;
  // without any, generated clients never send a key and meet the documented 401.
  app.addHook('onRoute', (route) => {
    if (route.schema && !route.schema.hide && !route.schema.security && takesApiKey(route.url)) route.schema.security = [{ apiKey: [] }, { apiKeyHeader: [] }, {}];
  });
  await app.register(swagger, {
    // Name components after the schemas' $id (Error, Neighbors, IndexInfo) instead of def-0, def-1…
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    openapi: {
      openapi: '3.1.0',
      info: OPENAPI_INFO,
      tags: [
        { name: 'search', description: 'Nearest-neighbour queries' },
        { name: 'items', description: 'Stored items' },
        { name: 'indexes', description: 'Indexes being served' },
        { name: 'operations', description: 'Probes, metrics, administration' },
      ],
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'NNSERVE_API_KEY or one of NNSERVE_API_KEYS, when set: `Authorization: Bearer <key>`.' },
          apiKeyHeader: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'The same keys in an x-api-key header instead.' },
          adminToken: { type: 'http', scheme: 'bearer', description: 'NNSERVE_ADMIN_TOKEN.' },
        },
      },
    },
  });
  if (options.ui) await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}

export default fp(openapi, { name: 'nnserve-openapi' });
