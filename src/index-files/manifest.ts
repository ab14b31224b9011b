import { createHash } from 'node:crypto';
import { isMetricName, METRIC_NAMES, type MetricName } from '../annoy/metrics/names.js';
import { withoutByteOrderMark } from '../input/byte-order-mark.js';
import type { IndexStorage } from '../annoy/storage.js';
import { storageSha256 } from './storage-sha256.js';

/**
 * The manifest `<name>.json` that sits beside `<name>.ann`. Annoy files carry no header, so the
 * manifest is where metric and dimensions come from; `bytes`/`sha256` let deliverers verify a copy.
 */
export interface IndexManifest {
  metric: MetricName;
  /** Vector length; for hamming, the number of bits. */
  dimensions: number;
  items?: number;
  trees?: number;
  annoyVersion?: '1.17';
  /** File name (relative to the manifest) of the external ids, one per line, or null for integer ids. */
  ids?: string | null;
  description?: string;
  bytes?: number;
  sha256?: string;
  /**
   * sha256 of the ids (see idsSha256()): what ties the ids file to this `.ann`. Without it an old ids
   * file with as many lines as the new index has items is served with the new vectors when it lands
   * after them.
   */
  idsSha256?: string;
  createdAt?: string;
  [extra: string]: unknown;
}

/**
 * Most dimensions an index may have, wherever they are given (manifest, --dimensions, the input
 * of a build). Annoy sets no limit; nnserve does, so a typo cannot ask for gigabytes per node.
 */
export const MAX_DIMENSIONS = 1_000_000;

/**
 * A manifest is a few hundred bytes; anything this large is not one. The service reads manifests on
 * its event loop (to learn which ids file to watch), where a mislaid data file named `<name>.json`
 * would stall every request for seconds.
 */
export const MAX_MANIFEST_BYTES = 1 << 20;

export class ManifestError extends Error {
  override name = 'ManifestError';
}

/** The JSON value of a manifest file's text (a byte-order mark at the start is skipped); SyntaxError when it is not JSON. */
export function parseManifestJson(text: string): unknown {
  return JSON.parse(withoutByteOrderMark(text));
}

/** What a manifest's "ids" may name: a plain file name in the manifest's own directory. */
export function isIdsFileName(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && !value.includes('/') && !value.includes('\\') && !value.startsWith('.');
}

/** Validates parsed JSON as a manifest; the message says which field is wrong and why. */
export function parseManifest(value: unknown, source = 'manifest'): IndexManifest {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ManifestError(`${source}: expected a JSON object`);
  }
  const m = value as Record<string, unknown>;
  if (!isMetricName(m.metric)) {
    throw new ManifestError(`${source}: "metric" must be one of ${METRIC_NAMES.join(', ')} (got ${JSON.stringify(m.metric)})`);
  }
  if (!Number.isInteger(m.dimensions) || (m.dimensions as number) < 1 || (m.dimensions as number) > MAX_DIMENSIONS) {
    throw new ManifestError(`${source}: "dimensions" must be an integer in 1..${MAX_DIMENSIONS} (got ${JSON.stringify(m.dimensions)})`);
  }
  for (const key of ['items', 'trees', 'bytes'] as const) {
    if (m[key] !== undefined && (!Number.isInteger(m[key]) || (m[key] as number) < 0)) {
      throw new ManifestError(`${source}: "${key}" must be a non-negative integer (got ${JSON.stringify(m[key])})`);
    }
  }
  if (m.ids !== undefined && m.ids !== null) {
    if (!isIdsFileName(m.ids)) {
      throw new ManifestError(`${source}: "ids" must be a plain file name in the same directory or null (got ${JSON.stringify(m.ids)})`);
    }
  }
  for (const key of ['sha256', 'idsSha256'] as const) {
    if (m[key] !== undefined && (typeof m[key] !== 'string' || !/^[0-9a-f]{64}$/.test(m[key]))) {
      throw new ManifestError(`${source}: "${key}" must be 64 lowercase hex digits`);
    }
  }
  // A checksum of ids the index does not have says the manifest was written for another one.
  if (m.idsSha256 !== undefined && (m.ids === undefined || m.ids === null)) {
    throw new ManifestError(`${source}: "idsSha256" is given but "ids" names no ids file`);
  }
  if (m.description !== undefined && typeof m.description !== 'string') {
    throw new ManifestError(`${source}: "description" must be a string`);
  }
  return m as IndexManifest;
}

/**
 * Splits an ids file (one id per line, line i = item i); a trailing newline is allowed, and a
 * byte-order mark (Windows tools write one) is not part of the first id.
 */
export function parseIdsFile(text: string): string[] {
  const lines = withoutByteOrderMark(text).split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
}

/**
 * What makes an ids file unusable for an index of `items` items: a line count that differs, or an
 * id given twice (two items could not both be looked up by it). Null when it fits.
 */
export function idsFileProblem(ids: readonly string[], items: number, file: string): string | null {
  if (ids.length !== items) return `${file} has ${ids.length} lines, the index has ${items} items`;
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) return `${file}: duplicate id ${JSON.stringify(id.slice(0, 100))}`;
    seen.add(id);
  }
  return null;
}

/**
 * sha256 of ids as `nnserve build` writes them: each followed by LF, no byte-order mark. Taken over
 * the ids rather than the file's bytes, so the same ids saved by a Windows editor (CRLF, a mark)
 * still match their manifest.
 */
export function idsSha256(ids: readonly string[]): string {
  const hash = createHash('sha256');
  for (const id of ids) hash.update(id).update('\n');
  return hash.digest('hex');
}

/** Why the ids of `file` are not the ones the manifest's `idsSha256` names; null when they are, or none is named. */
export function idsChecksumProblem(ids: readonly string[], manifest: IndexManifest, file: string): string | null {
  if (manifest.idsSha256 === undefined || idsSha256(ids) === manifest.idsSha256) return null;
  return `${file} does not match the manifest idsSha256 (the ids file of another version?)`;
}

/**
 * Why the `.ann` bytes in `storage` are not the file the manifest describes (its `bytes`, then its
 * `sha256`, hashed only when the size fits), or null: a new manifest beside an old `.ann`, or the
 * reverse, would otherwise serve one version's vectors under the other's ids.
 */
export function annFileProblem(storage: IndexStorage, manifest: IndexManifest, file: string): string | null {
  if (manifest.bytes !== undefined && manifest.bytes !== storage.byteLength) return `${file} has ${storage.byteLength} bytes, manifest says ${manifest.bytes}`;
  if (manifest.sha256 !== undefined && storageSha256(storage) !== manifest.sha256) return `${file} does not match the manifest sha256`;
  return null;
}
