import type { FastifyPluginAsync } from 'fastify';
import type { IndexEntry } from '../src/service/registry/registry.js';
import { errors, nameParams, ref } from './schemas.js';

function info(e: IndexEntry) {
  return {
    name: e.name,
    metric: e.metric,
    dimensions: e.dimensions,
    items: e.items,
    trees: e.trees,
    bytes: e.bytes,
    version: e.version,
    loadedAt: e.loadedAt,
    description: e.manifest.description,
  };
}

/** GET /v1/indexes and GET /v1/indexes/{name}: what is being served. */
const indexes: FastifyPluginAsync = async (app) => {
  app.get(
    '/v1/indexes',
    {
      schema: {
        tags: ['indexes'],
        summary: 'List the indexes being served',
        response: {
          200: { description: 'Every index being served, by name.', type: 'object', required: ['indexes'], properties: { indexes: { type: 'array', items: ref.indexInfo } } },
          ...errors(401),
        },
      },
    },
    async () => ({ indexes: app.nn.registry.list().map(info) }),
  );

  app.get<{ Params: { name: string } }>(
    '/v1/indexes/:name',
    {
      schema: {
        tags: ['indexes'],
        summary: 'Describe one index',
        params: nameParams,
        response: { 200: { description: 'The index.', ...ref.indexInfo }, ...errors(400, 401, 404) },
      },
    },
    async (request) => info(app.nn.queries.index(request.params.name)),
  );
};

export default indexes;
