import { STATUS_CODES } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { AppOptions } from '../../src/service/app.js';
import type { ServiceConfig } from '../../src/service/config.js';
import { startServer, type RunningServer } from '../../src/service/server.js';
import { testConfig, type Teardown } from '../service/helpers.js';

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** Pino output captured in memory, parsed line by line. */
export class LogCapture {
  readonly lines: LogLine[] = [];
  readonly stream = new Writable({
    write: (chunk: Buffer, _enc, done) => {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') this.lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });

  find(msg: string | RegExp, fields: Record<string, unknown> = {}): LogLine[] {
    return this.lines.filter(
      (l) => (typeof msg === 'string' ? l.msg === msg : msg.test(l.msg)) && Object.entries(fields).every(([k, v]) => l[k] === v),
    );
  }
}

/** Like the service tests' `serve`, with the server's log lines captured. */
export async function serveLogged(
  t: Teardown,
  dir: string,
  overrides: Partial<ServiceConfig> = {},
  level = 'info',
  load?: AppOptions['load'],
): Promise<{ server: RunningServer; logs: LogCapture }> {
  const logs = new LogCapture();
  const logger = pino({ level }, logs.stream);
  const server = await startServer({ config: testConfig(dir, { logLevel: level, ...overrides }), logger, load });
  t.teardown(() => server.shutdown('test over'));
  await server.app.nn.initialLoad;
  return { server, logs };
}

/**
 * What must never appear in a response body: the server's own paths (temp and working
 * directories) and stack-trace shapes. Request paths the client sent may be echoed; server paths
 * may not.
 */
export function leaks(text: string, serverPaths: readonly string[]): string | null {
  for (const p of serverPaths) if (p.length > 1 && text.includes(p)) return `server path ${p}`;
  const m = /\bat [\w.<>]+ \(|node:internal|node_modules|\.[cm]?js:\d+:\d+|\n\s+at /.exec(text);
  return m ? `stack-like text ${JSON.stringify(m[0])}` : null;
}

export const SERVER_PATHS = [process.cwd(), tmpdir()];

/**
 * Checks one error answer: a 4xx (or 503/504) JSON body with exactly {statusCode, error, message}
 * agreeing with the status line, and no leak. Returns what is wrong, or null.
 */
export function badErrorAnswer(status: number, contentType: string | undefined, text: string, serverPaths: readonly string[] = SERVER_PATHS): string | null {
  if (!((status >= 400 && status < 500) || status === 503 || status === 504)) return `status ${status}`;
  if (!String(contentType ?? '').startsWith('application/json')) return `content-type ${contentType}`;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return `body is not JSON: ${text.slice(0, 100)}`;
  }
  if (typeof body !== 'object' || body === null) return 'body is not an object';
  const keys = Object.keys(body).sort().join(',');
  if (keys !== 'error,message,statusCode') return `body keys ${keys}`;
  const b = body as { statusCode: unknown; error: unknown; message: unknown };
  if (b.statusCode !== status) return `statusCode ${String(b.statusCode)} vs status ${status}`;
  if (b.error !== STATUS_CODES[status]) return `error ${String(b.error)}`;
  if (typeof b.message !== 'string' || b.message.length === 0) return 'empty message';
  return leaks(text, serverPaths);
}

export interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The server closed the connection without any byte of answer. */
  silent: boolean;
}

/**
 * Sends bytes on a fresh TCP connection and reads until the server closes it or `capMs` passes
 * (then the socket is destroyed). `chunks` are written `gapMs` apart (slow bodies).
 */
export function rawExchange(port: number, chunks: (string | Buffer)[], options: { gapMs?: number; capMs?: number } = {}): Promise<RawReply & { capped: boolean }> {
  const { gapMs = 0, capMs = 10_000 } = options;
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    let capped = false;
    let timer: NodeJS.Timeout | null = null;
    const cap = setTimeout(() => {
      capped = true;
      socket.destroy();
    }, capMs);
    socket.on('data', (d: Buffer) => {
      received.push(d);
      // One answer is all we wait for: stop once a complete response (by Content-Length) arrived.
      const text = Buffer.concat(received).toString('latin1');
      const head = text.indexOf('\r\n\r\n');
      const len = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, head));
      if (head >= 0 && len && text.length - head - 4 >= Number(len[1])) socket.destroy();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(cap);
      if (timer) clearTimeout(timer);
      const text = Buffer.concat(received).toString('utf8');
      const head = text.indexOf('\r\n\r\n');
      const statusLine = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      const headers: Record<string, string> = {};
      for (const line of text.slice(0, head).split('\r\n').slice(1)) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({ status: statusLine ? Number(statusLine[1]) : 0, headers, body: head >= 0 ? text.slice(head + 4) : '', silent: text.length === 0, capped });
    });
    let i = 0;
    const next = () => {
      if (socket.destroyed) return;
      if (i >= chunks.length) return;
      socket.write(chunks[i++]);
      if (i < chunks.length) timer = setTimeout(next, gapMs);
    };
    socket.on('connect', next);
  });
}
