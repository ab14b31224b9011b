/**
 * Errno codes of failures that say nothing about the index files: the process or the machine was
 * short of something at that moment (descriptors, memory), or the storage hiccuped. Loading the
 * same files again later may well succeed.
 */
const TRANSIENT_CODES = new Set(['EMFILE', 'ENFILE', 'ENOMEM', 'EAGAIN', 'EBUSY', 'EINTR', 'EIO', 'ETIMEDOUT', 'ESTALE', 'ECONNRESET']);

/** V8's words for an allocation it could not make (ArrayBuffer, SharedArrayBuffer, WebAssembly.Memory). */
const ALLOCATION_FAILED = /allocation failed|could not allocate|out of memory/i;

/**
 * Whether a load failed for a reason of the moment rather than of the files (which stay rejected
 * until they change). Follows `cause`, since the loader wraps errors to name the file.
 */
export function isTransientLoadFailure(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined && TRANSIENT_CODES.has(code)) return true;
    if (e instanceof RangeError && ALLOCATION_FAILED.test(e.message)) return true;
  }
  return false;
}
