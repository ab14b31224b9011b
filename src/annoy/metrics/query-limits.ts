import type { MetricName } from './names.js';

/** The largest finite float32. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * What makes a query vector unanswerable in a meaningful way, beyond what Annoy itself checks
 * (it answers these, with infinite or arbitrary distances); null when the vector is fine. For
 * callers that must refuse such input, like the HTTP API and the query command; the engine still
 * answers as Annoy does.
 * - hamming: values other than 0 and 1 would be thresholded at 0.5, as Annoy's Python wrapper
 *   does, without a word;
 * - float metrics: a squared length past the float32 range overflows every distance to Infinity
 *   (JSON has no Infinity) or, for angular, to the same distance for every item.
 */
export function queryVectorProblem(metric: MetricName, vector: ArrayLike<number>, what = 'vector'): string | null {
  if (metric === 'hamming') {
    for (let i = 0; i < vector.length; i++) {
      if (vector[i] !== 0 && vector[i] !== 1) return `${what}[${i}] is ${vector[i]}; hamming vectors hold 0 or 1 per bit`;
    }
    return null;
  }
  let squared = 0;
  for (let i = 0; i < vector.length; i++) squared += vector[i] * vector[i];
  return squared > FLOAT32_MAX ? squaredLengthProblem(squared, what) : null;
}

export function squaredLengthProblem(squared: number, what: string): string {
  return `${what} is too long: its squared length ${squared.toPrecision(3)} is past the 32-bit float range (${FLOAT32_MAX.toPrecision(3)}), so distances would overflow; scale the vectors down`;
}

/**
 * What the HTTP API and the query command accept as search_k. Annoy also takes 0, which inspects no
 * candidate and answers every query with no ids: a caller's mistake, not a request.
 */
export const SEARCH_K_RULE = 'must be -1 (n × trees) or a positive integer';

export function isSearchK(k: unknown): k is number {
  return typeof k === 'number' && Number.isInteger(k) && (k === -1 || k > 0);
}
