/**
 * Loader thread: reads one index (manifest, ids, `.ann`) into shared memory, validates it with the
 * engine and posts the storage back. Runs once per load, then exits.
 */
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { AnnoyIndex } from '../src/annoy/index.js';
import { annFileProblem, idsChecksumProblem, idsFileProblem, MAX_MANIFEST_BYTES, parseIdsFile, parseManifest, parseManifestJson } from '../src/index-files/manifest.js';
import { readRegularFileText } from '../src/index-files/open-regular.js';
import { idLookupTable } from '../src/index-files/id-lookup.js';
import { readIndexFile } from '../src/index-files/read-storage.js';
import { isTransientLoadFailure } from '../src/service/registry/load-failure.js';
import type { LoadReply, LoadRequest } from '../src/service/registry/loader.js';

function load({ dir, name }: LoadRequest): LoadReply {
  const manifestFile = `${name}.json`;
  let raw: unknown;
  try {
    raw = parseManifestJson(readRegularFileText(join(dir, manifestFile), MAX_MANIFEST_BYTES));
  } catch (err) {
    throw new Error(`${manifestFile}: ${(err as Error).message}`, { cause: err });
  }
  const manifest = parseManifest(raw, manifestFile);
  let ids: string[] | null = null;
  if (manifest.ids) {
    try {
      ids = parseIdsFile(readRegularFileText(join(dir, manifest.ids)));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new Error(`${manifest.ids} (named by ${manifestFile}): ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`, { cause: err });
    }
    const stale = idsChecksumProblem(ids, manifest, manifest.ids);
    if (stale) throw new Error(stale);
  }
  const storage = readIndexFile(join(dir, `${name}.ann`), { shared: true });
  const mismatch = annFileProblem(storage, manifest, `${name}.ann`);
  if (mismatch) throw new Error(mismatch);
  let index: AnnoyIndex;
  try {
    // A file cut inside its item area can pass as a smaller valid forest: the manifest's count tells.
    index = AnnoyIndex.open(storage, manifest.metric, manifest.dimensions, { expectedItems: manifest.items });
  } catch (err) {
    throw new Error(`${name}.ann (${manifest.metric}, ${manifest.dimensions} dimensions, ${storage.byteLength} bytes): ${(err as Error).message}`, { cause: err });
  }
  const items = index.getNItems();
  const trees = index.getNTrees();
  if (manifest.trees !== undefined && manifest.trees !== trees) throw new Error(`${name}.ann has ${trees} trees, manifest says ${manifest.trees}`);
  const idsProblem = ids && idsFileProblem(ids, items, manifest.ids!);
  if (idsProblem) throw new Error(idsProblem);
  // Annoy would serve it, answering null (JSON's rendering of NaN and Infinity) for distances in
  // an arbitrary order; better the previous version keeps serving and the log says what to fix.
  const unusable = index.findUnusableItem();
  if (unusable !== null) {
    const id = ids === null ? '' : ` (id ${JSON.stringify(ids[unusable.item])})`;
    throw new Error(`${name}.ann: ${unusable.problem}${id}; rebuild the index without it`);
  }
  return { ok: true, manifest, ids, idTable: ids && idLookupTable(ids), storage, items, trees };
}

let reply: LoadReply;
try {
  reply = load(workerData as LoadRequest);
} catch (err) {
  reply = { ok: false, message: err instanceof Error ? err.message : String(err), transient: isTransientLoadFailure(err) };
}
parentPort!.postMessage(reply);
