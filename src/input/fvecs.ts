import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { InputError, type VectorSet } from './vector-set.js';

/** Rows are copied in batches of about this many bytes (readFileSync refuses files over 2 GiB). */
const CHUNK_BYTES = 16 * 1024 * 1024;

/**
 * `.fvecs` (the TEXMEX/SIFT format): each row is an int32 little-endian dimension count followed
 * by that many float32 values. Rows carry no ids; row i becomes item i.
 */
export function readFvecs(path: string): VectorSet {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size < 4) throw new InputError(`${path}: empty or truncated .fvecs file (${size} bytes)`);
    const head = Buffer.alloc(4);
    readSync(fd, head, 0, 4, 0);
    const f = head.readInt32LE(0);
    if (f <= 0 || f > 1_000_000) throw new InputError(`${path}: row 1 declares ${f} dimensions; not an .fvecs file?`);
    const rowBytes = 4 + 4 * f;
    if (size % rowBytes !== 0) {
      throw new InputError(`${path}: size ${size} is not a multiple of the row size ${rowBytes} (row 1 says ${f} dimensions); truncated file, or rows of different lengths`);
    }
    const rows = size / rowBytes;
    const vectors = new Float32Array(rows * f);
    const rowsPerChunk = Math.max(1, Math.floor(CHUNK_BYTES / rowBytes));
    // Rows are 4-byte aligned inside the chunk, so typed views read them in place (x86-64 and ARM64 are little-endian, like the format).
    const chunk = new Uint8Array(rowsPerChunk * rowBytes);
    const ints = new Int32Array(chunk.buffer);
    const floats = new Float32Array(chunk.buffer);
    for (let row = 0; row < rows; row += rowsPerChunk) {
      const count = Math.min(rowsPerChunk, rows - row);
      const want = count * rowBytes;
      let got = 0;
      while (got < want) {
        const n = readSync(fd, chunk, got, want - got, row * rowBytes + got);
        if (n === 0) throw new InputError(`${path}: file shrank while being read`);
        got += n;
      }
      for (let r = 0; r < count; r++) {
        const at = r * (f + 1);
        const d = ints[at];
        if (d !== f) throw new InputError(`${path}: row ${row + r + 1} declares ${d} dimensions, row 1 declares ${f}`);
        const out = (row + r) * f;
        for (let j = 0; j < f; j++) {
          const v = floats[at + 1 + j];
          if (!Number.isFinite(v)) throw new InputError(`${path}: row ${row + r + 1}: value ${j + 1} is ${v}; vectors must hold finite numbers`);
          vectors[out + j] = v;
        }
      }
    }
    return { vectors, dimensions: f, ids: null };
  } finally {
    closeSync(fd);
  }
}
