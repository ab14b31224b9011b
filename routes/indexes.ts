import type { FastifyPluginAsync } from 'fastify';
import type { IndexEntry, Rejection } from '../src/service/registry/registry.js';
import { errors, nameParams, noQuery, ref } from './schemas.js';

function info(e: IndexEntry, lastRejection: Rejection | undefined) {
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
    lastRejection,
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
        querystring: noQuery,
        response: {
          200: {
            description: 'Every index being served, by name; and the names whose files were rejected before any version of them could be served.',
            type: 'object',
            required: ['indexes', 'rejected'],
            properties: {
              indexes: { type: 'array', items: ref.indexInfo },
              rejected: {
                type: 'array',
                items: { type: 'object', required: ['name', 'reason', 'at'], properties: { name: { type: 'string' }, reason: { type: 'string' }, at: { type: 'string', format: 'date-time' } } },
              },
            },
          },
          ...errors(400, 401),
        },
      },
    },
    async () => {
      const { registry } = app.nn;
      return {
        indexes: registry.list().map((e) => info(e, registry.rejection(e.name))),
        rejected: registry.rejectedOnly().map((name) => ({ name, ...registry.rejection(name)! })),
      };
    },
  );

  app.get<{ Params: { name: string } }>(
    '/v1/indexes/:name',
    {
      schema: {
        tags: ['indexes'],
        summary: 'Describe one index',
        params: nameParams,
        querystring: noQuery,
        response: { 200: { description: 'The index.', ...ref.indexInfo }, ...errors(400, 401, 404, 414) },
      },
    },
    async (request) => {
      const entry = app.nn.queries.index(request.params.name);
      return info(entry, app.nn.registry.rejection(entry.name));
    },
  );
};

export default indexes;
