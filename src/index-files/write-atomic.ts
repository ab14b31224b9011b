import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** One write call is limited to 2 GiB. */
const WRITE_BYTES = 1 << 30;

export interface FileToWrite {
  path: string;
  data: Uint8Array | string;
}

export interface WriteOptions {
  /**
   * `false` keeps the atomic rename but not the durability, for files nobody needs after a crash
   * (tests); an fsync can take tens of ms, which spreads one index's files over several reloads.
   */
  fsync?: boolean;
}

/** Writes (and syncs) `data` under a hidden temporary name beside `path`, which the index-directory watcher ignores. */
function stage(path: string, data: Uint8Array | string, options: WriteOptions): string {
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
  } catch (err) {
    removeQuietly(temp);
    throw err;
  }
  return temp;
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already renamed or never created.
  }
}

/**
 * Writes files that belong together (an index's `.ids`, `.ann` and `.json`) so that they appear
 * together: every file is written and synced under a temporary name first, and only then are they
 * renamed over their paths, in the order given, back to back. A reader sees each file old or whole,
 * and a watcher sees the renames within microseconds of each other, not one fsync apart (a large
 * index's fsync outlasts the service's reload debounce, which then loaded one new file beside the
 * other's old version and rejected the pair). If any file fails to stage, none is replaced.
 */
export function writeFilesAtomic(files: readonly FileToWrite[], options: WriteOptions = {}): void {
  const temps: string[] = [];
  let renamed = 0;
  try {
    for (const file of files) temps.push(stage(file.path, file.data, options));
    for (; renamed < files.length; renamed++) renameSync(temps[renamed], files[renamed].path);
  } catch (err) {
    for (let i = renamed; i < temps.length; i++) removeQuietly(temps[i]);
    throw err;
  }
}

