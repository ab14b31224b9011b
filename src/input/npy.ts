import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { float32Problem } from './row-buffer.js';
import { InputError, type VectorSet } from './vector-set.js';

const CHUNK_BYTES = 16 * 1024 * 1024;
const MAGIC = '\x93NUMPY';

interface NpyHeader {
  littleEndian: boolean;
  itemBytes: 4 | 8;
  rows: number;
  dimensions: number;
  dataOffset: number;
}

/**
 * NumPy `.npy` (format versions 1–3): a 2-D float32 or float64 array in C order, as written by
 * `np.save`. Rows carry no ids; row i becomes item i. float64 values are rounded to float32,
 * which is what Annoy stores.
 */
export function readNpy(path: string): VectorSet {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const header = readHeader(fd, size, path);
    const { rows, dimensions, itemBytes, littleEndian, dataOffset } = header;
    const dataBytes = rows * dimensions * itemBytes;
    if (dataOffset + dataBytes > size) {
      throw new InputError(`${path}: truncated: shape (${rows}, ${dimensions}) needs ${dataBytes} data bytes, the file has ${size - dataOffset}`);
    }
    if (dataOffset + dataBytes < size) {
      throw new InputError(`${path}: ${size - dataOffset - dataBytes} unexpected bytes after the array data`);
    }
    const vectors = new Float32Array(rows * dimensions);
    const chunkItems = Math.max(1, Math.floor(CHUNK_BYTES / itemBytes));
    const chunk = new Uint8Array(chunkItems * itemBytes);
    const view = new DataView(chunk.buffer);
    const total = rows * dimensions;
    for (let first = 0; first < total; first += chunkItems) {
      const count = Math.min(chunkItems, total - first);
      const want = count * itemBytes;
      let got = 0;
      while (got < want) {
        const n = readSync(fd, chunk, got, want - got, dataOffset + first * itemBytes + got);
        if (n === 0) throw new InputError(`${path}: file shrank while being read`);
        got += n;
      }
      for (let k = 0; k < count; k++) {
        const v = itemBytes === 4 ? view.getFloat32(k * 4, littleEndian) : view.getFloat64(k * 8, littleEndian);
        const problem = float32Problem(v);
        if (problem !== null) {
          const at = first + k;
          throw new InputError(`${path}: row ${Math.floor(at / dimensions) + 1}: value ${(at % dimensions) + 1} is ${problem}`);
        }
        vectors[first + k] = v;
      }
    }
    return { vectors, dimensions, ids: null };
  } finally {
    closeSync(fd);
  }
}

function readHeader(fd: number, size: number, path: string): NpyHeader {
  const prefix = Buffer.alloc(12);
  const got = readSync(fd, prefix, 0, 12, 0);
  if (got < 10 || prefix.toString('latin1', 0, 6) !== MAGIC) throw new InputError(`${path}: not a .npy file (missing the \\x93NUMPY magic)`);
  const major = prefix[6];
  let headerLength: number;
  let headerStart: number;
  if (major === 1) {
    headerLength = prefix.readUInt16LE(8);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (got < 12) throw new InputError(`${path}: truncated .npy header`);
    headerLength = prefix.readUInt32LE(8);
    headerStart = 12;
  } else {
    throw new InputError(`${path}: unsupported .npy format version ${major}`);
  }
  if (headerStart + headerLength > size) throw new InputError(`${path}: truncated .npy header`);
  const raw = Buffer.alloc(headerLength);
  readSync(fd, raw, 0, headerLength, headerStart);
  const text = raw.toString(major === 3 ? 'utf8' : 'latin1');

  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined) throw new InputError(`${path}: unsupported dtype (structured or missing 'descr'); save a plain float32 or float64 array`);
  if (fortran === undefined || shapeText === undefined) throw new InputError(`${path}: malformed .npy header: ${text.trim()}`);

  const dtype = /^([<>=|])f([48])$/.exec(descr);
  if (dtype === null) {
    throw new InputError(`${path}: dtype ${descr} is not supported; save float32 or float64 (e.g. np.save(path, a.astype(np.float32)))`);
  }
  if (fortran === 'True') {
    throw new InputError(`${path}: the array is in Fortran (column-major) order; save it in C order (np.save(path, np.ascontiguousarray(a)))`);
  }
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (shape.length !== 2 || !shape.every((s) => /^\d+$/.test(s))) {
    throw new InputError(`${path}: expected a 2-D array (rows, dimensions), got shape (${shapeText.trim()})`);
  }
  const rows = Number(shape[0]);
  const dimensions = Number(shape[1]);
  if (rows === 0 || dimensions === 0) throw new InputError(`${path}: the array is empty (shape (${rows}, ${dimensions}))`);
  // '=' means native order; every platform Node targets for this is little-endian.
  return { littleEndian: dtype[1] !== '>', itemBytes: dtype[2] === '4' ? 4 : 8, rows, dimensions, dataOffset: headerStart + headerLength };
}
