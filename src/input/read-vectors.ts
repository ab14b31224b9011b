import { extname } from 'node:path';
import { readCsv } from './csv.js';
import { readFvecs } from './fvecs.js';
import { readJsonl } from './jsonl.js';
import { readNpy } from './npy.js';
import { InputError, type VectorSet } from './vector-set.js';

export const INPUT_EXTENSIONS = ['.fvecs', '.npy', '.jsonl', '.csv'] as const;

/** Picks the reader by file extension (case-insensitive). */
export async function readVectors(path: string): Promise<VectorSet> {
  const ext = extname(path).toLowerCase();
  switch (ext) {
    case '.fvecs':
      return readFvecs(path);
    case '.npy':
      return readNpy(path);
    case '.jsonl':
    case '.ndjson':
      return readJsonl(path);
    case '.csv':
      return readCsv(path);
    default:
      throw new InputError(`${path}: unknown input format ${JSON.stringify(ext || '(no extension)')}; expected one of ${INPUT_EXTENSIONS.join(', ')}`);
  }
}

export { InputError, type VectorSet } from './vector-set.js';
