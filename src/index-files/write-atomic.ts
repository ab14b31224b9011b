import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** One write call is limited to 2 GiB. */
const WRITE_BYTES = 1 << 30;

/**
 * Writes `data` beside `path` under a hidden temporary name (which the index-directory watcher
 * ignores), syncs it, then renames it over `path`: a reader sees the old file or the whole new one.
 * `fsync: false` keeps the atomic rename but not the durability, for files nobody needs after a
 * crash (tests); an fsync can take tens of ms, which spreads one index's files over several reloads.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string, options: { fsync?: boolean } = {}): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(temp, 'wx');
  try {
    try {
      for (let done = 0; done < bytes.byteLength; ) {
        done += writeSync(fd, bytes, done, Math.min(bytes.byteLength - done, WRITE_BYTES));
      }
      if (options.fsync !== false) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (err) {
    try {
      unlinkSync(temp);
    } catch {
      // Already renamed or never created.
    }
    throw err;
  }
}
