import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { allocateStorage, storageBytes, type IndexStorage } from '../annoy/storage.js';

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
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const storage = allocateStorage(size, options);
    let done = 0;
    while (done < size) {
      const length = Math.min(CHUNK_BYTES, size - done);
      const read = readSync(fd, storageBytes(storage, done, length), 0, length, done);
      if (read === 0) throw new IndexFileChangedError(`${path}: file shrank while being read (${done} of ${size} bytes)`);
      done += read;
    }
    if (fstatSync(fd).size !== size) throw new IndexFileChangedError(`${path}: file changed size while being read`);
    return storage;
  } finally {
    closeSync(fd);
  }
}
