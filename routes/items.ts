import type { FastifyPluginAsync } from 'fastify';
import type { ServiceConfig } from '../src/service/config.js';
import { EXAMPLE_ITEM, OTHER_EXAMPLE_ITEM } from './examples.js';
import { errors, externalIdSchema, idParam, includeDistancesSchema, nameParam, nameParams, nativeJson, noQuery, nSchema, ref, searchKSchema } from './schemas.js';

/** Most item numbers one page of `GET …/items` covers: ~150 KB of string ids. */
const MAX_ID_PAGE = 10_000;

interface ItemParams {
  name: string;
  id: string;
}

interface NeighborsQuery {
  n: number;
  search_k: number;
  include_distances: boolean;
  exclude_self: boolean;
}

/**
 * Item reads: stored vector, neighbours of an item, distance between two items. Handlers are plain
 * functions, not async ones: an answer computed on the event loop is returned as a value and sent at
 * once; a query that goes to the worker pool returns a promise.
 */
const items: FastifyPluginAsync<{ config: ServiceConfig }> = async (app, { config }) => {
  const itemParams = { type: 'object', required: ['name', 'id'], properties: { name: nameParam, id: idParam }, additionalProperties: false } as const;

  app.get<{ Params: { name: string }; Querystring: { offset: number; limit: number } }>(
    '/v1/indexes/:name/items',
    {
      schema: {
        tags: ['items'],
        summary: 'Ids of the stored items, a page at a time',
        description: 'Items in the order of their numbers in the index, holes left out. Follow `next` (the `offset` of the next page, null after the last) to walk them all.',
        params: nameParams,
        querystring: {
          type: 'object',
          properties: {
            offset: { type: 'integer', minimum: 0, default: 0, description: 'Item number to start at.' },
            limit: { type: 'integer', minimum: 1, maximum: MAX_ID_PAGE, default: 100, description: `Item numbers to cover (at most ${MAX_ID_PAGE}).` },
          },
          additionalProperties: false,
        },
        response: {
          200: {
            description: 'One page of ids.',
            type: 'object',
            required: ['index', 'version', 'items', 'ids', 'next'],
            properties: {
              index: { type: 'string' },
              version: { type: 'integer' },
              items: { type: 'integer', description: "Item numbers in the index (Annoy's get_n_items), holes included." },
              ids: { type: 'array', items: externalIdSchema },
              next: { type: ['integer', 'null'], description: 'Offset of the next page; null when this page reaches the last item.' },
            },
          },
          ...errors(400, 401, 404, 414),
        },
      },
    },
    (request) => app.nn.queries.itemIds(request.params.name, request.query.offset, request.query.limit),
  );

  app.get<{ Params: ItemParams }>(
    '/v1/indexes/:name/items/:id',
    {
      serializerCompiler: nativeJson,
      schema: {
        tags: ['items'],
        summary: 'Stored vector of an item',
        params: itemParams,
        querystring: noQuery,
        response: {
          200: {
            description: 'The vector as stored in the index (hamming: 0/1 per bit).',
            type: 'object',
            required: ['index', 'version', 'id', 'vector'],
            properties: {
              index: { type: 'string' },
              version: { type: 'integer' },
              id: externalIdSchema,
              vector: { type: 'array', items: { type: 'number' } },
            },
          },
          ...errors(400, 401, 404, 414),
        },
      },
    },
    (request) => app.nn.queries.itemVector(request.params.name, request.params.id),
  );

  app.get<{ Params: ItemParams; Querystring: NeighborsQuery }>(
    '/v1/indexes/:name/items/:id/neighbors',
    {
      serializerCompiler: nativeJson,
      schema: {
        tags: ['search'],
        summary: 'Nearest neighbours of a stored item',
        description: 'The item itself is usually the first result unless exclude_self is true (not after a copy of it with a smaller id, nor on dot indexes, where a longer vector has a larger dot product).',
        params: itemParams,
        querystring: {
          type: 'object',
          properties: {
            n: nSchema(config),
            search_k: searchKSchema(config),
            include_distances: includeDistancesSchema,
            exclude_self: { type: 'boolean', default: false, description: 'Leave the item itself out (n results are still returned: the query asks for n + 1).' },
          },
          additionalProperties: false,
        },
        response: { 200: { description: 'The n nearest neighbours, nearest first.', ...ref.neighbors }, ...errors(400, 401, 404, 414, 504) },
      },
    },
    (request) => {
      const q = request.query;
      return app.nn.queries.neighborsByItem(request.params.name, request.params.id, {
        n: q.n,
        searchK: q.search_k,
        includeDistances: q.include_distances,
        excludeSelf: q.exclude_self,
        client: request,
      });
    },
  );

  app.get<{ Params: { name: string }; Querystring: { a: string; b: string } }>(
    '/v1/indexes/:name/distance',
    {
      schema: {
        tags: ['items'],
        summary: 'Distance between two stored items',
        params: nameParams,
        querystring: {
          type: 'object',
          required: ['a', 'b'],
          properties: {
            a: { ...idParam, description: 'First item id.', examples: [EXAMPLE_ITEM] },
            b: { ...idParam, description: 'Second item id.', examples: [OTHER_EXAMPLE_ITEM] },
          },
          additionalProperties: false,
        },
        response: {
          200: {
            description: "The distance, as Annoy's get_distance gives it.",
            type: 'object',
            required: ['index', 'version', 'distance'],
            properties: { index: { type: 'string' }, version: { type: 'integer' }, distance: { type: 'number' } },
          },
          ...errors(400, 401, 404, 414),
        },
      },
    },
    (request) => app.nn.queries.distance(request.params.name, request.query.a, request.query.b),
  );
};

export default items;
