/**
 * What every input reader returns. Rows are in input order; `ids[i]` is the id given for row `i`,
 * or `ids` is null when the format carries none (row i becomes item i).
 */
export interface VectorSet {
  /** rows × dimensions values, row-major. */
  vectors: Float32Array;
  dimensions: number;
  /** Integer ids are Annoy item ids (holes allowed); string ids are mapped to item = row. */
  ids: number[] | string[] | null;
}

/** A problem with the user's input file; the message names the file and, when known, the row. */
export class InputError extends Error {
  override name = 'InputError';
}
