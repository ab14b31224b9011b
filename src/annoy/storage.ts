/**
 * Where an index's node array lives. The engine never does I/O: callers allocate a storage,
 * fill `bytes()` (e.g. with chunked file reads) and hand it to `AnnoyIndex.open`.
 *
 * When the index fits, the buffer is a shared `WebAssembly.Memory` (which *is* a SharedArrayBuffer),
 * so worker threads share one copy and the SIMD kernels can read the vectors in place. The first
 * `SCRATCH_BYTES` of such a memory are per-query scratch slots for the kernels (query vector,
 * candidate ids, distances); the node array starts right after. Indexes too large for one
 * WebAssembly memory (4 GiB) live in a plain SharedArrayBuffer, where the kernels work on copies
 * (see kernels/select-kernels.ts).
 */
export interface IndexStorage {
  /** The whole backing buffer. */
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** Byte offset of node 0 inside `buffer` (a multiple of 16). */
  readonly byteOffset: number;
  /** Bytes of node data. */
  readonly byteLength: number;
  /** Set when `buffer` is this shared WebAssembly memory: enables the SIMD kernels. */
  readonly memory?: WebAssembly.Memory;
}

/** Bytes of the control area at the start of a WebAssembly-backed storage (slot busy flags at offset 0, one Int32 per slot). */
export const CONTROL_BYTES = 64 * 1024;
/** Number of per-query scratch slots after the control area. */
export const SCRATCH_SLOTS = 16;
/** Bytes per scratch slot: query vector (≤ 64 KiB) + candidate ids and results in chunks. */
export const SCRATCH_SLOT_BYTES = 128 * 1024;
/** Where the node array starts in a WebAssembly-backed storage (page aligned). */
export const WASM_DATA_OFFSET = CONTROL_BYTES + SCRATCH_SLOTS * SCRATCH_SLOT_BYTES;

const WASM_PAGE = 64 * 1024;
const WASM_MAX_PAGES = 65536;
/** Most node bytes one WebAssembly-backed storage can hold (4 GiB less the control and scratch area). */
export const WASM_MAX_DATA_BYTES = WASM_MAX_PAGES * WASM_PAGE - WASM_DATA_OFFSET;

/**
 * Allocates storage for `byteLength` bytes of node data: a shared WebAssembly memory when it fits
 * (and `wasm` is not false), else a SharedArrayBuffer. `shared: false` gives a plain ArrayBuffer
 * (single-threaded tools and tests).
 */
export function allocateStorage(byteLength: number, options: { shared?: boolean; wasm?: boolean; growable?: boolean } = {}): IndexStorage {
  const shared = options.shared ?? true;
  const pages = Math.ceil((WASM_DATA_OFFSET + byteLength) / WASM_PAGE);
  if (shared && options.wasm !== false && pages <= WASM_MAX_PAGES) {
    // A growable memory reserves address space up to 4 GiB but commits only what is used.
    const memory = new WebAssembly.Memory({ initial: pages, maximum: options.growable ? WASM_MAX_PAGES : pages, shared: true });
    return { buffer: memory.buffer as unknown as SharedArrayBuffer, byteOffset: WASM_DATA_OFFSET, byteLength, memory };
  }
  const buffer = shared ? new SharedArrayBuffer(byteLength) : new ArrayBuffer(byteLength);
  return { buffer, byteOffset: 0, byteLength };
}

/**
 * A storage as it arrives in another thread's message: the WebAssembly.Memory and its buffer are
 * cloned separately, so take the buffer from the memory again to keep the two one object.
 */
export function reviveStorage(storage: IndexStorage): IndexStorage {
  if (!storage.memory) return storage;
  return { buffer: storage.memory.buffer as unknown as SharedArrayBuffer, byteOffset: storage.byteOffset, byteLength: storage.byteLength, memory: storage.memory };
}

/**
 * `storage` made `byteLength` long, keeping its bytes: in place when its WebAssembly memory can
 * grow (allocateStorage({ growable: true })) or is already large enough, else copied into a new
 * storage. Use the returned storage afterwards.
 */
export function growStorage(storage: IndexStorage, byteLength: number): IndexStorage {
  const { memory } = storage;
  if (memory) {
    const pages = Math.ceil((storage.byteOffset + byteLength) / WASM_PAGE);
    const have = memory.buffer.byteLength / WASM_PAGE;
    try {
      if (pages > have) memory.grow(pages - have);
      return { buffer: memory.buffer as unknown as SharedArrayBuffer, byteOffset: storage.byteOffset, byteLength, memory };
    } catch {
      // At its maximum: copy below.
    }
  } else if (byteLength <= storage.buffer.byteLength - storage.byteOffset) {
    return { ...storage, byteLength };
  }
  const next = allocateStorage(byteLength, { shared: storage.buffer instanceof SharedArrayBuffer, growable: true });
  storageBytes(next, 0, Math.min(storage.byteLength, byteLength)).set(storageBytes(storage, 0, Math.min(storage.byteLength, byteLength)));
  return next;
}

/** Wraps existing bytes (e.g. a file read into a Uint8Array) without copying; JS kernels only. */
export function storageFromBytes(bytes: Uint8Array): IndexStorage {
  if (bytes.byteOffset % 4 !== 0) {
    const copy = new Uint8Array(bytes.byteLength);
    copy.set(bytes);
    bytes = copy;
  }
  return { buffer: bytes.buffer as ArrayBuffer, byteOffset: bytes.byteOffset, byteLength: bytes.byteLength };
}

/**
 * A writable byte view of `length` bytes starting `offset` bytes into the node data. Views are
 * limited in size by V8 (2^32 elements) and by `fs.readSync` (< 2^31 bytes): fill large storages in chunks.
 */
export function storageBytes(storage: IndexStorage, offset = 0, length = storage.byteLength - offset): Uint8Array {
  return new Uint8Array(storage.buffer, storage.byteOffset + offset, length);
}
