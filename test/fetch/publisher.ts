import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How the fake publisher answers for one path. */
export interface Published {
  body: Buffer;
  /** Sends the full Content-Length but closes the connection after this many bytes. */
  truncateAt?: number;
  /** Answers If-None-Match with 304 when it matches. */
  etag?: string;
  /** Answers 302 to this path instead (object stores hand out signed URLs this way). */
  redirectTo?: string;
  /**
   * Sends the body over and over, chunked (no Content-Length), until the client hangs up or this
   * many bytes have gone out: a hostile or broken publisher whose file never ends.
   */
  endlessUpTo?: number;
}

/**
 * A real HTTP server on 127.0.0.1 standing in for an object store or CDN: files live in a map the
 * test changes between passes, and every GET is recorded so tests can tell what was downloaded.
 */
export class Publisher {
  readonly files = new Map<string, Published>();
  readonly requests: { path: string; status: number }[] = [];
  /** Body bytes written per path by `endlessUpTo` answers. */
  readonly sent = new Map<string, number>();
  private server: Server | null = null;
  private port = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.answer(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Publishes `<prefix>/<name>.{ann,json[,ids]}`; the manifest carries bytes and sha256 unless told otherwise. */
  publish(prefix: string, name: string, ann: Buffer, options: { ids?: string[]; manifest?: Record<string, unknown>; etags?: boolean } = {}): Record<string, unknown> {
    const manifest: Record<string, unknown> = {
      metric: 'euclidean',
      dimensions: 4,
      items: options.ids?.length ?? 10,
      trees: 2,
      annoyVersion: '1.17',
      ids: options.ids ? `${name}.ids` : null,
      bytes: ann.length,
      sha256: sha256(ann),
      ...options.manifest,
    };
    const tag = (b: Buffer) => (options.etags ? `"${sha256(b).slice(0, 16)}"` : undefined);
    const manifestBody = Buffer.from(JSON.stringify(manifest, null, 2) + '\n');
    this.files.set(`${prefix}/${name}.json`, { body: manifestBody, etag: tag(manifestBody) });
    this.files.set(`${prefix}/${name}.ann`, { body: ann, etag: tag(ann) });
    if (options.ids) {
      const ids = Buffer.from(options.ids.join('\n') + '\n');
      this.files.set(`${prefix}/${name}.ids`, { body: ids, etag: tag(ids) });
    }
    return manifest;
  }

  /** GETs of `path` answered so far (any status). */
  count(path: string, status?: number): number {
    return this.requests.filter((r) => r.path === path && (status === undefined || r.status === status)).length;
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = this.files.get(path);
    const record = (status: number) => this.requests.push({ path, status });
    if (!file) {
      record(404);
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    if (file.redirectTo !== undefined) {
      record(302);
      res.writeHead(302, { location: file.redirectTo }).end();
      return;
    }
    if (file.etag && req.headers['if-none-match'] === file.etag) {
      record(304);
      res.writeHead(304, { etag: file.etag }).end();
      return;
    }
    record(200);
    if (file.endlessUpTo !== undefined) {
      this.sendEndless(path, file.body, file.endlessUpTo, res);
      return;
    }
    const headers: Record<string, string | number> = { 'content-length': file.body.length, 'content-type': 'application/octet-stream' };
    if (file.etag) headers.etag = file.etag;
    res.writeHead(200, headers);
    if (file.truncateAt !== undefined) {
      res.write(file.body.subarray(0, file.truncateAt), () => res.socket?.destroy());
      return;
    }
    res.end(file.body);
  }

  private sendEndless(path: string, body: Buffer, upTo: number, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    this.sent.set(path, 0);
    const more = (): void => {
      while (!res.destroyed && this.sent.get(path)! < upTo) {
        this.sent.set(path, this.sent.get(path)! + body.length);
        if (!res.write(body)) {
          res.once('drain', more);
          return;
        }
      }
      if (!res.destroyed) res.end();
    };
    res.on('close', () => res.removeAllListeners('drain'));
    more();
  }
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Deterministic bytes standing in for an index file (fetch never parses them). */
export function fakeAnn(bytes: number, seed: number): Buffer {
  const out = Buffer.alloc(bytes);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Collects what a run() prints, so tests read it instead of the real stdout. */
export function capture(): { out: string[]; err: string[]; options: { out: (l: string) => void; err: (l: string) => void } } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, options: { out: (l) => out.push(l), err: (l) => err.push(l) } };
}
