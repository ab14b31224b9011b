import { writeFileSync } from 'node:fs';

import { tempDir as sharedTempDir, type Teardown } from '../helpers/temp-dir.js';

/** A fresh temp directory removed when the test ends. */
export const tempDir = (t: Teardown): string => sharedTempDir(t, 'nnserve-cli-');

/** Deterministic pseudo-random vectors (a small LCG) so failures reproduce. */
export function randomRows(rows: number, dims: number, seed = 1): number[][] {
  let s = seed >>> 0;
  const next = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  return Array.from({ length: rows }, () => Array.from({ length: dims }, () => Math.round((next() * 2 - 1) * 1000) / 1000));
}

export function writeFvecs(path: string, rows: number[][]): void {
  const parts = rows.map((row) => {
    const b = Buffer.alloc(4 + 4 * row.length);
    b.writeInt32LE(row.length, 0);
    row.forEach((v, j) => b.writeFloatLE(v, 4 + 4 * j));
    return b;
  });
  writeFileSync(path, Buffer.concat(parts));
}

export interface NpyOptions {
  descr?: string;
  fortran?: boolean;
  shape?: string;
  version?: 1 | 2;
  /** Override the data bytes (e.g. to truncate). */
  data?: Buffer;
}

/** Writes an .npy file the way np.save lays it out (header padded so data starts at a multiple of 64). */
export function writeNpy(path: string, rows: number[][], options: NpyOptions = {}): void {
  const descr = options.descr ?? '<f4';
  const dims = rows[0]?.length ?? 0;
  const shape = options.shape ?? `(${rows.length}, ${dims})`;
  // Structured dtypes are a Python list, not a quoted string.
  const descrLiteral = descr.startsWith('[') ? descr : `'${descr}'`;
  const dict = `{'descr': ${descrLiteral}, 'fortran_order': ${options.fortran ? 'True' : 'False'}, 'shape': ${shape}, }`;
  const version = options.version ?? 1;
  const prefixBytes = version === 1 ? 10 : 12;
  let header = dict;
  while ((prefixBytes + header.length + 1) % 64 !== 0) header += ' ';
  header += '\n';
  const prefix = Buffer.alloc(prefixBytes);
  prefix.write('\x93NUMPY', 0, 'latin1');
  prefix[6] = version;
  prefix[7] = 0;
  if (version === 1) prefix.writeUInt16LE(header.length, 8);
  else prefix.writeUInt32LE(header.length, 8);
  let data = options.data;
  if (data === undefined) {
    const size = descr.endsWith('8') ? 8 : 4;
    const big = descr.startsWith('>');
    data = Buffer.alloc(rows.length * dims * size);
    const values = options.fortran ? transpose(rows).flat() : rows.flat();
    values.forEach((v, k) => {
      if (size === 4) big ? data!.writeFloatBE(v, k * 4) : data!.writeFloatLE(v, k * 4);
      else big ? data!.writeDoubleBE(v, k * 8) : data!.writeDoubleLE(v, k * 8);
    });
  }
  writeFileSync(path, Buffer.concat([prefix, Buffer.from(header, 'latin1'), data]));
}

function transpose(rows: number[][]): number[][] {
  return rows[0].map((_, j) => rows.map((row) => row[j]));
}

export function writeJsonl(path: string, records: unknown[]): void {
  writeFileSync(path, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

/** Float32 rounding, to compare what a reader returns with the numbers written. */
export function f32(rows: number[][]): number[] {
  return Array.from(Float32Array.from(rows.flat()));
}
