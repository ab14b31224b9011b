import type { FastifyPluginAsync } from 'fastify';
import type { ServiceConfig } from '../src/service/config.js';
import type { BatchQuery, ExternalId } from '../src/service/queries.js';
import { batchExample, searchByItemExample, searchExample } from './examples.js';
import { errors, externalIdSchema, includeDistancesSchema, nameParams, nativeJson, neighborsResponse, noQuery, nSchema, ref, searchKSchema, vectorOrItem, vectorSchema } from './schemas.js';

interface SearchBody {
  vector?: number[];
  item?: ExternalId;
  n: number;
  search_k: number;
  include_distances: boolean;
  exclude?: ExternalId[];
}

interface BatchBody {
  queries: BatchQuery[];
  n: number;
  search_k: number;
  include_distances: boolean;
}

/** Vector search and batch search (plain handlers like the item routes: a value when answered inline, a promise from the pool). */
const search: FastifyPluginAsync<{ config: ServiceConfig }> = async (app, { config }) => {
  const params = nameParams;

  app.post<{ Params: { name: string }; Body: SearchBody }>(
    '/v1/indexes/:name/search',
    {
      serializerCompiler: nativeJson,
      schema: {
        tags: ['search'],
        summary: 'Nearest neighbours of a query vector, or of a stored item',
        description: 'Give either `vector` or `item` (an external id, as in the batch route): with `item`, the search is get_nns_by_item, and `exclude` can leave out what the caller has already shown (the item itself usually comes first unless excluded: not after a copy of it with a smaller id, nor on dot indexes).',
        params,
        // Everything is in the body: `?n=5` would otherwise be dropped without a word.
        querystring: noQuery,
        body: {
          type: 'object',
          properties: {
            vector: vectorSchema(),
            item: { ...externalIdSchema, description: 'A stored item to search from, instead of a vector.' },
            n: nSchema(config),
            search_k: searchKSchema(config),
            include_distances: includeDistancesSchema,
            exclude: {
              type: 'array',
              maxItems: config.maxN,
              items: externalIdSchema,
              description: 'Ids to leave out of the results; n results are still returned when the index has enough candidates (the query asks for n plus the excluded ids the index holds, so search_k -1 grows with them).',
            },
          },
          additionalProperties: false,
          oneOf: vectorOrItem,
          examples: [searchExample, searchByItemExample],
        },
        response: { 200: { description: 'The n nearest neighbours, nearest first.', ...ref.neighbors }, ...errors(400, 401, 404, 413, 414, 415, 504) },
      },
    },
    (request) => {
      const b = request.body;
      const options = { n: b.n, searchK: b.search_k, includeDistances: b.include_distances, exclude: b.exclude, client: request };
      return b.vector !== undefined ? app.nn.queries.search(request.params.name, b.vector, options) : app.nn.queries.searchByItem(request.params.name, b.item!, options);
    },
  );

  app.post<{ Params: { name: string }; Body: BatchBody }>(
    '/v1/indexes/:name/search/batch',
    {
      serializerCompiler: nativeJson,
      schema: {
        tags: ['search'],
        summary: 'Several queries in one request',
        description: 'Each query is a vector or a stored item; results come back in the same order. Large batches are split across the workers. One query with an unknown item or a wrong vector fails the whole batch (404 or 400 naming `queries[i]`).',
        params,
        querystring: noQuery,
        body: {
          type: 'object',
          required: ['queries'],
          properties: {
            queries: {
              type: 'array',
              minItems: 1,
              maxItems: config.maxBatch,
              items: { type: 'object', properties: { vector: vectorSchema(), item: externalIdSchema }, additionalProperties: false, oneOf: vectorOrItem },
            },
            n: nSchema(config),
            search_k: searchKSchema(config),
            include_distances: includeDistancesSchema,
          },
          additionalProperties: false,
          examples: [batchExample],
        },
        response: {
          200: {
            description: 'One result per query, in the order of the queries.',
            type: 'object',
            required: ['index', 'version', 'results'],
            properties: {
              index: { type: 'string' },
              version: { type: 'integer', description: 'The index version that answered every query of the batch.' },
              results: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['ids'],
                  properties: { ids: neighborsResponse.properties.ids, distances: neighborsResponse.properties.distances },
                },
              },
            },
          },
          ...errors(400, 401, 404, 413, 414, 415, 504),
        },
      },
    },
    (request) => {
      const b = request.body;
      return app.nn.queries.batch(request.params.name, b.queries, { n: b.n, searchK: b.search_k, includeDistances: b.include_distances, client: request });
    },
  );
};

export default search;
