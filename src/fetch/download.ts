import { createHash } from 'node:crypto';
import { open, unlink } from 'node:fs/promises';
import { FetchError } from './errors.js';
import { describe, httpGet, type GetOptions } from './http.js';

export interface Expected {
  bytes?: number;
  sha256?: string;
  /** Number of lines the file must hold (ids files: one per item). */
  lines?: number;
}

export type DownloadResult =
  | { status: 'not-modified'; etag: string | null }
  | { status: 'ok'; etag: string | null; bytes: number; sha256: string };

/**
 * Streams `url` into `tempPath` (created exclusively), hashing and counting on the way, then checks
 * the result against the Content-Length and what the manifest promised. On any failure the temp
 * file is removed, so a bad download never leaves anything a later rename could publish.
 */
export async function downloadFile(url: URL, tempPath: string, expected: Expected, options: GetOptions): Promise<DownloadResult> {
  const response = await httpGet(url, options);
  if (response.status === 'not-modified') return response;
  const hash = createHash('sha256');
  let bytes = 0;
  let newlines = 0;
  let lastByte = -1;
  const file = await open(tempPath, 'wx', 0o644);
  try {
    try {
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        hash.update(chunk);
        bytes += chunk.length;
        if (expected.lines !== undefined) {
          for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) newlines++;
          lastByte = chunk[chunk.length - 1] ?? lastByte;
        }
        // Stopped as soon as the body outgrows what was promised, before the chunk reaches the
        // disk: an endless body (chunked, no Content-Length) would otherwise fill it.
        const overflow = tooLong(bytes, newlines, expected);
        if (overflow) throw new FetchError(`${url.href}: ${overflow} (download stopped there)`);
        await file.write(chunk);
      }
    } catch (err) {
      if (err instanceof FetchError) throw err;
      throw new FetchError(`${url.href}: download failed after ${bytes} bytes: ${describe(err)}`);
    }
    if (response.contentLength !== null && bytes !== response.contentLength) {
      throw new FetchError(`${url.href}: body truncated: got ${bytes} of ${response.contentLength} bytes`);
    }
    if (expected.bytes !== undefined && bytes !== expected.bytes) {
      throw new FetchError(`${url.href}: ${bytes} bytes, but the manifest says ${expected.bytes}`);
    }
    const sha256 = hash.digest('hex');
    if (expected.sha256 !== undefined && sha256 !== expected.sha256) {
      throw new FetchError(`${url.href}: sha256 ${sha256} does not match the manifest's ${expected.sha256}`);
    }
    if (expected.lines !== undefined) {
      const lines = newlines + (bytes > 0 && lastByte !== 10 ? 1 : 0);
      if (lines !== expected.lines) throw new FetchError(`${url.href}: ${lines} lines, but the manifest says ${expected.lines} items`);
    }
    // Durable before the rename makes it visible: a crash must not publish a hole-filled file.
    await file.sync();
    await file.close();
    return { status: 'ok', etag: response.etag, bytes, sha256 };
  } catch (err) {
    await file.close().catch(() => undefined);
    await unlink(tempPath).catch(() => undefined);
    response.body.destroy();
    throw err;
  }
}

/** What a body received so far has more of than the manifest promised, or null. */
function tooLong(bytes: number, newlines: number, expected: Expected): string | null {
  if (expected.bytes !== undefined && bytes > expected.bytes) return `${bytes} bytes, but the manifest says ${expected.bytes}`;
  // More newlines than lines is too many lines whatever follows.
  if (expected.lines !== undefined && newlines > expected.lines) return `more than ${expected.lines} lines, but the manifest says ${expected.lines} items`;
  return null;
}
