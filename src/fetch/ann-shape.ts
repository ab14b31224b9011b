import { open } from 'node:fs/promises';
import { describeIndex, metricByName } from '../annoy/metrics/index.js';
import type { IndexManifest } from '../index-files/manifest.js';
import { FetchError } from './errors.js';

/**
 * A manifest without `bytes` or `sha256` leaves nothing to verify a download against, and a body
 * sent without a Content-Length that stops early looks complete. What the manifest still says
 * (metric, dimensions, items) fixes the node size and the last node, a root copy whose
 * n_descendants is the item count: a cut file almost never fits both. Only these few bytes are
 * read, so a multi-GiB index costs nothing extra; the server validates the whole file on load.
 */
export async function checkUnverifiedAnn(url: URL, path: string, bytes: number, manifest: IndexManifest): Promise<void> {
  const nodeBytes = metricByName(manifest.metric).layout(manifest.dimensions).nodeBytes;
  const geometry = describeIndex(manifest.metric, manifest.dimensions);
  const unverified = 'the manifest has no bytes or sha256 to check the download against';
  if (bytes === 0 || bytes % nodeBytes !== 0) {
    throw new FetchError(`${url.href}: ${bytes} bytes is not a whole number of the ${nodeBytes}-byte nodes of ${geometry}: a truncated download? (${unverified})`);
  }
  if (manifest.items === undefined) return;
  const last = Buffer.alloc(4);
  const file = await open(path, 'r');
  try {
    await file.read(last, 0, 4, bytes - nodeBytes);
  } finally {
    await file.close();
  }
  const items = last.readInt32LE(0);
  if (items !== manifest.items) {
    throw new FetchError(`${url.href}: its last node says ${items} items where the manifest says ${manifest.items}: a truncated download? (${unverified})`);
  }
}
