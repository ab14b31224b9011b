/**
 * JSON schemas shared by the routes. They validate requests (Ajv), serialise responses
 * (fast-json-stringify, except on the float-array routes: see nativeJson) and generate openapi.yaml,
 * so each shape is written once. Limits come from the service configuration, hence the factory.
 */
import type { FastifySerializerCompiler } from 'fastify';
import type { ServiceConfig } from '../src/service/config.js';
import { INDEX_NAME_PATTERN } from '../src/index-files/index-name.js';
import { EXAMPLE_INDEX, EXAMPLE_ITEM } from './examples.js';

export type Limits = Pick<ServiceConfig, 'maxN' | 'maxSearchK' | 'maxBatch'>;

/**
 * Longest path segment the router takes (its default, 100, is short for external ids); a longer one
 * is refused with 414 before any route, so every route with a path parameter documents 414.
 */
export const MAX_PATH_SEGMENT = 1024;


/** The one error body every failure uses. */
export const errorSchema = {
  $id: 'Error',
  type: 'object',
  description: 'Every error has this shape; messages never include stack traces or file paths.',
  required: ['statusCode', 'error', 'message'],
  properties: {
    statusCode: { type: 'integer', description: 'The HTTP status, repeated.' },
    error: { type: 'string', description: 'The HTTP status text.' },
    message: { type: 'string', description: 'What went wrong, for a human.' },
  },
} as const;

/** Response map entries for the errors a route can produce (429 and 503 always). */
export function errors(...codes: number[]): Record<number, object> {
  const text: Record<number, string> = {
    400: 'Invalid input: unknown field or query parameter, wrong type, wrong vector length, bad n or search_k.',
    401: 'Missing or wrong credentials: an API key on /v1/indexes… (only when NNSERVE_API_KEY or NNSERVE_API_KEYS is set), the admin token on /v1/admin/reload.',
    404: 'Unknown index or item.',
    413: 'Request body larger than the configured limit.',
    414: `A path segment (index name or item id) longer than ${MAX_PATH_SEGMENT} characters.`,
    415: 'Request body that is not application/json, or compressed (Content-Encoding other than identity; the answer carries Accept-Encoding: identity).',
    429: 'Too many requests from this address (only when NNSERVE_RATE_LIMIT_MAX is set); see Retry-After.',
    503: 'Shutting down (Retry-After: 1); on the query routes also the query queue full or the query\'s worker thread failed twice (Retry-After); on admin reload, the index directory cannot be read.',
    504: 'The query did not finish within the configured deadline.',
  };
  const out: Record<number, object> = {};
  // Every route given error codes is a /v1 route: rate limited when a limit is set, and, as every
  // route, refused while the server shuts down (a request on a connection still open then).
  for (const code of new Set([...codes, 429, 503])) out[code] = { description: text[code] ?? 'Error.', $ref: 'Error#' };
  return out;
}

export const externalIdSchema = {
  type: ['string', 'integer'],
  description: 'External item id: a string when the index has an ids file, else the item number.',
} as const;

/**
 * Not validated against INDEX_NAME_PATTERN: a name that cannot exist is simply not found (404),
 * the empty one of `/v1/indexes/` included.
 */
export const nameParam = {
  type: 'string',
  maxLength: 256,
  description: `Index name: the file name \`<name>.ann\` without extension (${INDEX_NAME_PATTERN}).`,
  examples: [EXAMPLE_INDEX],
} as const;

/** Path parameters of routes under /v1/indexes/{name}. */
export const nameParams = { type: 'object', required: ['name'], properties: { name: nameParam }, additionalProperties: false } as const;

/** GET routes without parameters refuse unknown ones as the others do: a misspelt `?n=` is an error, not ignored. */
export const noQuery = { type: 'object', properties: {}, additionalProperties: false } as const;

/** A search from a vector or from a stored item: exactly one of the two (see validationMessage for the wording). */
export const vectorOrItem = [
  { type: 'object', required: ['vector'] },
  { type: 'object', required: ['item'] },
] as const;

/** The empty id of `…/items/` is not found (404) like any other unknown id. */
export const idParam = {
  type: 'string',
  maxLength: MAX_PATH_SEGMENT,
  description: 'External item id, URL-encoded.',
  examples: [EXAMPLE_ITEM],
} as const;

/**
 * Serialiser compiler for the routes answering with float arrays (distances, item vectors):
 * JSON.stringify for every status. V8 formats doubles natively about twice as fast as
 * fast-json-stringify's per-number path (a 40-float item vector: 4.3 vs 7.9 µs; 10 distances: 1.6 vs
 * 2.9 µs), the largest single cost of a small query after the socket write. Nothing is filtered on
 * the way out, so these handlers build exactly the documented objects, and errors are always
 * errorBody() objects; the response schemas still document them.
 */
export const nativeJson: FastifySerializerCompiler<unknown> = () => JSON.stringify;

export function nSchema(limits: Limits) {
  return { type: 'integer', minimum: 1, maximum: limits.maxN, default: 10, description: 'How many neighbours to return.' } as const;
}

export function searchKSchema(limits: Limits) {
  return {
    type: 'integer',
    minimum: -1,
    maximum: limits.maxSearchK,
    default: -1,
    description: 'Nodes to inspect (accuracy vs speed); -1 = n × trees. 0 is rejected.',
  } as const;
}

export const includeDistancesSchema = { type: 'boolean', default: true, description: 'Return distances beside the ids.' } as const;

export function vectorSchema() {
  return {
    type: 'array',
    minItems: 1,
    maxItems: 1_000_000,
    items: { type: 'number' },
    description: 'Query vector: exactly `dimensions` finite numbers (hamming: 0/1 per bit).',
  } as const;
}

export const neighborsResponse = {
  $id: 'Neighbors',
  type: 'object',
  required: ['index', 'version', 'ids'],
  properties: {
    index: { type: 'string' },
    version: { type: 'integer', description: 'The index version that answered.' },
    ids: { type: 'array', items: externalIdSchema },
    distances: { type: 'array', items: { type: 'number' }, description: 'Present when include_distances is true.' },
  },
} as const;

export const indexInfoSchema = {
  $id: 'IndexInfo',
  type: 'object',
  required: ['name', 'metric', 'dimensions', 'items', 'trees', 'bytes', 'version', 'loadedAt'],
  properties: {
    name: { type: 'string' },
    metric: { type: 'string', enum: ['angular', 'euclidean', 'manhattan', 'dot', 'hamming'] },
    dimensions: { type: 'integer' },
    items: { type: 'integer', description: 'Item count (largest item number + 1).' },
    trees: { type: 'integer' },
    bytes: { type: 'integer', description: 'Size of the index file.' },
    version: { type: 'integer', description: 'Increases by 1 with every successful (re)load.' },
    loadedAt: { type: 'string', format: 'date-time' },
    description: { type: 'string' },
    lastRejection: {
      description: 'Present when newer files of this index were rejected: the version above is still served, and `reason` says what to fix.',
      type: 'object',
      required: ['reason', 'at'],
      properties: { reason: { type: 'string' }, at: { type: 'string', format: 'date-time' } },
    },
  },
} as const;

/** Schemas registered once (app.addSchema) and referenced by $ref; they become OpenAPI components. */
export const sharedSchemas = [errorSchema, neighborsResponse, indexInfoSchema] as const;

/** What every route answers while the server shuts down, probes and metrics included. */
export const shuttingDown = { 503: { description: 'Shutting down (Retry-After: 1).', $ref: 'Error#' } } as const;

export const ref = {
  error: { $ref: 'Error#' },
  neighbors: { $ref: 'Neighbors#' },
  indexInfo: { $ref: 'IndexInfo#' },
} as const;
