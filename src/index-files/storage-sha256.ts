import { createHash } from 'node:crypto';
import { storageBytes, type IndexStorage } from '../annoy/storage.js';

/** Bytes per hash update: views stay under Buffer's limits for multi-GiB storage. */
const CHUNK_BYTES = 64 * 1024 * 1024;

/** sha256 (hex) of an index already in memory: what a manifest's `sha256` is checked against. */
export function storageSha256(storage: IndexStorage): string {
  const hash = createHash('sha256');
  for (let off = 0; off < storage.byteLength; off += CHUNK_BYTES) {
    hash.update(storageBytes(storage, off, Math.min(CHUNK_BYTES, storage.byteLength - off)));
  }
  return hash.digest('hex');
}
