import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import { errorBody } from './errors.js';
import type { ServiceMetrics } from './metrics.js';
import { UNMATCHED } from './plugins/observability.js';
import { API_CSP, INERT_HEADERS } from './plugins/security-headers.js';

/** The method label of answers given before a request was parsed far enough to have one. */
export const UNKNOWN_METHOD = 'unknown';

/** A connection's socket; `_httpMessage` is the response Node's HTTP server has in progress on it. */
export type RawSocket = Duplex & { remoteAddress?: string; _httpMessage?: { headersSent?: boolean } | null };

export interface RawAnswerContext {
  metrics: ServiceMetrics;
  /** The access log; null when it is off. */
  log: FastifyBaseLogger | null;
}

/**
 * Writes a JSON error straight to a socket and closes it, for what Node answers below Fastify
 * (malformed HTTP, oversized headers, request timeouts, CONNECT), where no route, hook or reply
 * exists. It gives them what the hooks give every other answer: the one error shape, a request id,
 * the security headers, a series of the latency histogram and the access line. `ms` is what the
 * request took as far as it is known (the timeout for a 408). The `ip` is the peer's: no request
 * was parsed, so trusted proxies' headers cannot apply.
 */
export function answerRaw(context: RawAnswerContext, socket: RawSocket, status: number, message: string, method: string, ms: number): void {
  const reqId = randomUUID();
  // Read before destroy(): a destroyed socket no longer knows its peer.
  const ip = socket.remoteAddress;
  const body = JSON.stringify(errorBody(status, message));
  // As Node's own answer: not when a response on this connection has begun (pipelining), whose
  // bytes this would cut into.
  if (socket.writable && !socket._httpMessage?.headersSent) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        `x-request-id: ${reqId}\r\n` +
        INERT_HEADERS.map(([name, value]) => `${name}: ${value}\r\n`).join('') +
        `content-security-policy: ${API_CSP}\r\ncache-control: no-store\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  }
  // As Node's own answer does: the parser is done with this connection.
  socket.destroy();
  context.metrics.observeHttp(UNMATCHED, method, status, ms / 1000);
  context.log?.info({ reqId, ip, method, route: UNMATCHED, status, ms, reason: message }, 'request completed');
}

/** What Node reports on the 'clientError' event: a parser error code, or the request timeout. */
export function clientErrorAnswer(code: string | undefined, requestTimeoutMs: number): { status: number; message: string } {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, message: `the request was not received in full within ${requestTimeoutMs} ms` };
  if (code === 'HPE_HEADER_OVERFLOW') return { status: 431, message: 'the request headers are too large' };
  return { status: 400, message: `malformed HTTP request (${code ?? 'unknown error'})` };
}
