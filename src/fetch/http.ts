import { Agent, interceptors, request, type Dispatcher } from 'undici';
import { FetchError } from './errors.js';

/** Object stores and CDNs answer with redirects (signed URLs, mirrors); more than this is a loop. */
const MAX_REDIRECTIONS = 5;

/**
 * One connection pool for a fetch run. `timeoutMs` bounds connecting, waiting for headers, and
 * any silence while the body streams — not the whole transfer, which for a large index may
 * legitimately take minutes.
 */
export function createDispatcher(timeoutMs: number): Dispatcher {
  return new Agent({ connectTimeout: timeoutMs, headersTimeout: timeoutMs, bodyTimeout: timeoutMs }).compose(
    interceptors.redirect({ maxRedirections: MAX_REDIRECTIONS }),
  );
}

export type Body = Dispatcher.ResponseData['body'];

export type GetResult =
  | { status: 'not-modified'; etag: string | null }
  | { status: 'ok'; etag: string | null; contentLength: number | null; body: Body };

export interface GetOptions {
  dispatcher: Dispatcher;
  /** Sent as If-None-Match; a 304 then means the copy we hold is current. */
  etag?: string | null;
  signal?: AbortSignal;
}

/** GET that accepts 200 (and 304 when an ETag was sent); anything else is a FetchError. */
export async function httpGet(url: URL, options: GetOptions): Promise<GetResult> {
  const headers: Record<string, string> = { 'user-agent': 'nnserve-fetch' };
  if (options.etag) headers['if-none-match'] = options.etag;
  let response: Dispatcher.ResponseData;
  try {
    response = await request(url, { method: 'GET', headers, dispatcher: options.dispatcher, signal: options.signal });
  } catch (err) {
    throw new FetchError(`${url.href}: ${describe(err)}`);
  }
  const etag = headerValue(response.headers.etag);
  if (response.statusCode === 304 && options.etag) {
    await response.body.dump();
    return { status: 'not-modified', etag: etag ?? options.etag };
  }
  if (response.statusCode !== 200) {
    await response.body.dump();
    throw new FetchError(`${url.href}: HTTP ${response.statusCode}${statusHint(response.statusCode)}`);
  }
  const length = headerValue(response.headers['content-length']);
  const contentLength = length !== null && /^\d+$/.test(length) ? Number(length) : null;
  return { status: 'ok', etag, contentLength, body: response.body };
}

/** The statuses undici follows; 300, 304 and 305 are not redirects it would take. */
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** A redirect arrives here only when it was not followed, which a bare "HTTP 302" does not tell. */
function statusHint(status: number): string {
  if (status === 404) return ' (not published?)';
  if (REDIRECTS.has(status)) return ` (a redirect not followed: more than ${MAX_REDIRECTIONS} in a row, or no Location header)`;
  return '';
}

function headerValue(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? (value[0] ?? null) : value;
}

/** undici errors carry the useful part in `code` and `cause` (e.g. ECONNREFUSED). */
export function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message}${typeof code === 'string' && !err.message.includes(code) ? ` (${code})` : ''}${cause}`;
}
