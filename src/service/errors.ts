import { STATUS_CODES } from 'node:http';

/** The one error shape of every answer. */
export function errorBody(statusCode: number, message: string) {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

/**
 * Errors the service maps to HTTP answers. Each has a stable `code` and the status it maps to; the
 * error handler exposes the message only below 500, so messages here must never carry paths or data.
 */
export class ServiceError extends Error {
  constructor(
    readonly code: string,
    readonly statusCode: number,
    message: string,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
  override get name(): string {
    return 'ServiceError';
  }
}

/** A URL that does not percent-decode, in its path or its query string alike; the text is never echoed. */
export const MALFORMED_URL = 'malformed URL (invalid percent-encoding)';

/** Longest part of an unknown id a 404 repeats: ids in bodies have no length limit but the body's. */
const MAX_ECHOED_ID = 200;

/** An id as a 404 quotes it: whole when short, else its start and its length (a 4 MB id came back whole). */
function quotedId(id: string | number): string {
  if (typeof id !== 'string' || id.length <= MAX_ECHOED_ID) return JSON.stringify(id);
  return `${JSON.stringify(id.slice(0, MAX_ECHOED_ID))}… (${id.length} characters)`;
}

export const errors = {
  /** `rejection`: why its files are not served, when they were rejected (already free of server paths). */
  indexNotFound: (name: string, rejection?: { reason: string; at: string }) =>
    new ServiceError('NNS_ERR_INDEX_NOT_FOUND', 404, `index ${JSON.stringify(name)} not found${rejection ? `; its files were rejected at ${rejection.at}: ${rejection.reason}` : ''}`),
  /** `what` names the id's place ("item", or "queries[3].item" in a batch of hundreds). */
  itemNotFound: (index: string, id: string | number, what = 'item') =>
    new ServiceError('NNS_ERR_ITEM_NOT_FOUND', 404, `${what} ${quotedId(id)} not found in index ${JSON.stringify(index)}`),
  /** `what` names the vector ("vector", or "queries[3].vector" in a batch of hundreds). */
  dimensionMismatch: (what: string, expected: number, actual: number) =>
    new ServiceError('NNS_ERR_DIM_MISMATCH', 400, `${what} has ${actual} values, index expects ${expected}`),
  /** RFC 9110 §15.5.16: a 415 for a content coding says which codings are accepted. */
  compressedBody: (coding: string) =>
    new ServiceError('NNS_ERR_CONTENT_ENCODING', 415, `request bodies must be plain JSON, not compressed (content-encoding: ${coding.slice(0, 100)})`, { 'accept-encoding': 'identity' }),
  badInput: (message: string) => new ServiceError('NNS_ERR_BAD_INPUT', 400, message),
  queueFull: (retryAfterSeconds: number) =>
    new ServiceError('NNS_ERR_QUEUE_FULL', 503, 'query queue is full, retry later', { 'retry-after': String(retryAfterSeconds) }),
  deadline: (ms: number) => new ServiceError('NNS_ERR_DEADLINE', 504, `query did not finish within ${ms} ms`),
  workerLost: () => new ServiceError('NNS_ERR_WORKER_LOST', 503, 'the query worker failed; retry', { 'retry-after': '1' }),
  rateLimited: (message: string) => new ServiceError('NNS_ERR_RATE_LIMITED', 429, message),
  indexDirUnreadable: (code: string) => new ServiceError('NNS_ERR_INDEX_DIR', 503, `the index directory cannot be read (${code}); nothing was reloaded, see the server log`),
  /** Sent to nobody: it ends a request whose client closed its connection first (recorded as 499). */
  clientClosed: () => new ServiceError('NNS_ERR_CLIENT_CLOSED', 499, 'the client closed its connection before its answer'),
  shuttingDown: () => new ServiceError('NNS_ERR_SHUTTING_DOWN', 503, 'server is shutting down', { 'retry-after': '1' }),
  unauthorized: () => new ServiceError('NNS_ERR_UNAUTHORIZED', 401, 'missing or wrong credentials', { 'www-authenticate': 'Bearer' }),
} as const;
