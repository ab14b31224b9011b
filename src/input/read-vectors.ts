import { statSync } from 'node:fs';
import { extname } from 'node:path';
import { readCsv } from './csv.js';
import { readFvecs } from './fvecs.js';
import { readJsonl } from './jsonl.js';
import { readNpy } from './npy.js';
import { InputError, type VectorSet } from './vector-set.js';

export const INPUT_EXTENSIONS = ['.fvecs', '.npy', '.jsonl', '.csv'] as const;

const READERS: Record<string, (path: string) => VectorSet | Promise<VectorSet>> = {
  '.fvecs': readFvecs,
  '.npy': readNpy,
  '.jsonl': readJsonl,
  '.ndjson': readJsonl,
  '.csv': readCsv,
};

/** Picks the reader by file extension (case-insensitive). */
export async function readVectors(path: string): Promise<VectorSet> {
  const ext = extname(path).toLowerCase();
  const reader = Object.hasOwn(READERS, ext) ? READERS[ext] : undefined;
  if (reader === undefined) {
    throw new InputError(`${path}: unknown input format ${JSON.stringify(ext || '(no extension)')}; expected one of ${INPUT_EXTENSIONS.join(', ')}`);
  }
  checkInputPath(path);
  return reader(path);
}

/**
 * Reading a directory fails with "EISDIR: illegal operation on a directory, read", which names no
 * file. A missing file's error already names it, and pipes and devices are left to the readers.
 */
function checkInputPath(path: string): void {
  if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) throw new InputError(`${path} is a directory, not a file of vectors`);
}

export { InputError, type VectorSet } from './vector-set.js';
