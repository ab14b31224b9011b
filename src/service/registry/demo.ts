import { createHash } from 'node:crypto';
import { mkdirSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AnnoyBuilder } from '../../annoy/index.js';
import { idsSha256, type IndexManifest } from '../../index-files/manifest.js';
import { scanIndexDir } from './scan.js';
import { mulberry32 } from '../../annoy/random.js';
import { writeFilesAtomic } from '../../index-files/write-atomic.js';

export const DEMO = {
  name: 'demo',
  items: 10_000,
  dimensions: 40,
  trees: 10,
  clusters: 50,
  seed: 42,
  metric: 'angular',
} as const;


/**
 * The demo vectors: items scattered around 50 cluster centres, so neighbours are meaningful. One
 * random sequence in item order, so the first `items` of them need only that many draws.
 */
function demoVectors(items: number = DEMO.items): Float32Array {
  const rand = mulberry32(DEMO.seed);
  const f = DEMO.dimensions;
  const centres = new Float32Array(DEMO.clusters * f);
  for (let i = 0; i < centres.length; i++) centres[i] = rand() * 2 - 1;
  const out = new Float32Array(items * f);
  for (let i = 0; i < items; i++) {
    const c = i % DEMO.clusters;
    for (let d = 0; d < f; d++) out[i * f + d] = centres[c * f + d] + (rand() - 0.5) * 0.6;
  }
  return out;
}

/** Item `i`'s demo vector, rounded to 3 decimals: for examples that should find that item first. */
export function demoItemVector(i: number): number[] {
  const f = DEMO.dimensions;
  // Built at start-up for the OpenAPI examples: draw item i's values only, not all 10,000 items'.
  return Array.from(demoVectors(i + 1).subarray(i * f, (i + 1) * f), (x) => Math.round(x * 1000) / 1000);
}

/**
 * Creates the `demo` index when `dir` holds no index, so a fresh clone answers the README's
 * examples. Deterministic (fixed data and seed); files appear atomically, data first and
 * the manifest last, as `nnserve build` writes them: a name is an index once its manifest is there.
 * Returns true when it built the index.
 */
export function ensureDemoIndex(dir: string): boolean {
  mkdirSync(dir, { recursive: true });
  if (scanIndexDir(dir).names.length > 0) return false;
  const vectors = demoVectors();
  const f = DEMO.dimensions;
  const builder = new AnnoyBuilder(DEMO.metric, f, { seed: DEMO.seed });
  for (let i = 0; i < DEMO.items; i++) builder.addItem(i, vectors.subarray(i * f, (i + 1) * f));
  builder.build(DEMO.trees);
  const bytes = builder.save();
  const idList = Array.from({ length: DEMO.items }, (_, i) => `item-${i}`);
  const ids = idList.join('\n') + '\n';
  const manifest: IndexManifest = {
    metric: DEMO.metric,
    dimensions: f,
    items: DEMO.items,
    trees: DEMO.trees,
    annoyVersion: '1.17',
    ids: `${DEMO.name}.ids`,
    description: `Demo index: ${DEMO.items} random ${f}-dimensional vectors in ${DEMO.clusters} clusters (item-i belongs to cluster i mod ${DEMO.clusters}), angular, ${DEMO.trees} trees, seed ${DEMO.seed}.`,
    bytes: bytes.byteLength,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    idsSha256: idsSha256(idList),
  };
  writeFilesAtomic([
    { path: join(dir, `${DEMO.name}.ids`), data: ids },
    { path: join(dir, `${DEMO.name}.ann`), data: bytes },
    { path: join(dir, `${DEMO.name}.json`), data: JSON.stringify(manifest, null, 2) + '\n' },
  ]);
  return true;
}

/**
 * Undoes ensureDemoIndex when the server it was made for never started (say, its port was taken):
 * a failed start should leave the disk as it found it. The manifest goes first, so a server
 * watching the directory never sees an index without its data. The directory goes only when empty.
 */
export function removeDemoIndex(dir: string, andDirectory: boolean): void {
  for (const ext of ['json', 'ann', 'ids']) rmSync(join(dir, `${DEMO.name}.${ext}`), { force: true });
  if (!andDirectory) return;
  try {
    rmdirSync(dir);
  } catch {
    // Something else was put there meanwhile: it stays.
  }
}
