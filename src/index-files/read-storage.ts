import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { allocateStorage, storageBytes, type IndexStorage } from '../annoy/storage.js';
import { openRegularFile } from './open-regular.js';

/** One readSync must stay below 2 GiB; 64 MiB chunks keep the copy streaming through cache. */
const CHUNK_BYTES = 64 * 1024 * 1024;

export class IndexFileChangedError extends Error {
  override name = 'IndexFileChangedError';
}

/**
 * Reads a whole index file into fresh (shared) storage in chunks, so files over 2 GiB and over
 * 4 GiB load too. Reads through one file descriptor, so a rename over the path mid-read cannot mix
 * two files; a file that shrinks or grows while being read is reported, not half-loaded.
 */
export function readIndexFile(path: string, options: { shared?: boolean; wasm?: boolean } = {}): IndexStorage {
  const fd = openRegularFile(path);
  try {
    const size = fstatSync(fd).size;
    const storage = allocateStorage(size, options);
    readChunks(fd, path, storage, size);
    return storage;
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads the file again into `storage`, which must hold exactly its bytes. Fresh memory costs a page
 * fault per 4 KiB on first touch (on some VMs that, not the copy, is most of a load); this times the
 * copy alone, into memory the process already has (the benchmark's "warm memory" figure).
 */
export function readIndexFileInto(path: string, storage: IndexStorage): void {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size !== storage.byteLength) throw new IndexFileChangedError(`${path}: ${size} bytes, storage holds ${storage.byteLength}`);
    readChunks(fd, path, storage, size);
  } finally {
    closeSync(fd);
  }
}

function readChunks(fd: number, path: string, storage: IndexStorage, size: number): void {
  let done = 0;
  while (done < size) {
    const length = Math.min(CHUNK_BYTES, size - done);
    const read = readSync(fd, storageBytes(storage, done, length), 0, length, done);
    if (read === 0) throw new IndexFileChangedError(`${path}: file shrank while being read (${done} of ${size} bytes)`);
    done += read;
  }
  if (fstatSync(fd).size !== size) throw new IndexFileChangedError(`${path}: file changed size while being read`);
}
