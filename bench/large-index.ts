// An index over 4 GiB, end to end: Annoy builds a 4.2 GiB euclidean index (2.2 M items × 500 dims,
// 2 trees) from random vectors; nnserve reads it in chunks into a SharedArrayBuffer (too large for
// one WebAssembly memory, so the gathering SIMD kernels answer), validates it, and must return
// Annoy's exact ids and the stored vector of the last item, which lies past the 4 GiB mark. Then
// q/s with the gathering kernels and with the plain JS kernels, alternating on the same storage.
// Last, `nnserve serve` with 2 workers answers concurrent HTTP searches over the same file.
// Not part of `npm run bench`: it writes ~9 GB to bench/data and needs ~10 GB of RAM (this process
// and the service each hold the index once).
// Run: npm run build && node dist/bench/large-index.js
import { closeSync, existsSync, mkdirSync, openSync, readSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { AnnoyIndex } from '../src/annoy/index.js';
import { readIndexFile } from '../src/index-files/read-storage.js';
import { annoyBatch, annoyBuild, ensureAnnoyRef } from './lib/annoy-ref.js';
import { gaussianSource } from './lib/datasets.js';
import { DATA_DIR, machine, machineLine, writeResults } from './lib/results.js';
import { tempIndexDir } from './lib/index-dir.js';
import { rssOf, startService } from './lib/service.js';

const F = 500;
const ITEMS = 2_200_000;
const TREES = 2;
const QUERIES = 50;
const CHUNK_ROWS = 10_000;
const vectorsFile = join(DATA_DIR, `large-${ITEMS}x${F}.f32`);
const indexFile = join(DATA_DIR, `large-${ITEMS}x${F}.annoy-${TREES}.ann`);
const queriesFile = join(DATA_DIR, `large-${F}.queries.f32`);
const log = (line: string) => process.stderr.write(`[large] ${line}\n`);

function writeVectors(path: string, rows: number, next: () => number): void {
  const fd = openSync(path, 'w');
  try {
    const chunk = new Float32Array(F * CHUNK_ROWS);
    for (let done = 0; done < rows; done += CHUNK_ROWS) {
      const n = Math.min(CHUNK_ROWS, rows - done) * F;
      for (let k = 0; k < n; k++) chunk[k] = next();
      writeSync(fd, chunk.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
}

/** `count` floats of a raw float32 file, starting at float `first`. */
function readFloats(path: string, first: number, count: number): Float32Array {
  const bytes = Buffer.alloc(count * 4);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, bytes, 0, bytes.length, first * 4);
  } finally {
    closeSync(fd);
  }
  return new Float32Array(bytes.buffer, bytes.byteOffset, count);
}

ensureAnnoyRef();
mkdirSync(DATA_DIR, { recursive: true });
const random = gaussianSource(7);
if (!existsSync(indexFile)) {
  log(`writing ${ITEMS} × ${F} vectors`);
  writeVectors(vectorsFile, ITEMS, random);
  log(`Annoy builds ${TREES} trees: ${annoyBuild('euclidean', F, TREES, 1, vectorsFile, indexFile).seconds.toFixed(1)} s`);
}
writeVectors(queriesFile, QUERIES, random);

const t0 = performance.now();
const storage = readIndexFile(indexFile, { shared: true });
const t1 = performance.now();
const index = AnnoyIndex.open(storage, 'euclidean', F);
const t2 = performance.now();
const loaded = {
  bytes: index.byteLength, buffer: storage.buffer.constructor.name, kernels: index.kernels.kind,
  readSeconds: (t1 - t0) / 1000, openSeconds: (t2 - t1) / 1000, items: index.getNItems(), trees: index.getNTrees(),
};
log(`loaded ${(loaded.bytes / 2 ** 30).toFixed(2)} GiB into a ${loaded.buffer} (${loaded.kernels} kernels): read ${loaded.readSeconds.toFixed(1)} s, open + validate ${loaded.openSeconds.toFixed(1)} s`);

const queries = readFloats(queriesFile, 0, QUERIES * F);
const annoyIds = new Map<number, Int32Array>();
const searches = [-1, 5000].map((searchK) => {
  const annoy = annoyBatch('euclidean', F, indexFile, queriesFile, 10, searchK, join(DATA_DIR, 'large-ids.tmp'));
  let same = 0;
  for (let q = 0; q < QUERIES; q++) {
    const ids = index.getNnsByVector(queries.subarray(q * F, (q + 1) * F), 10, searchK).ids;
    if (ids.every((id, j) => id === annoy.ids[q * 10 + j])) same++;
  }
  log(`search_k ${searchK}: ${same} of ${QUERIES} answers have Annoy's exact ids`);
  annoyIds.set(searchK, annoy.ids);
  return { searchK, queries: QUERIES, identical: same };
});

/** The same storage opened again with the kernels NNSERVE_KERNELS names (already validated above). */
function openWith(kernels: 'js' | 'gather'): AnnoyIndex {
  const saved = process.env.NNSERVE_KERNELS;
  process.env.NNSERVE_KERNELS = kernels;
  try {
    return AnnoyIndex.open(storage, 'euclidean', F, { validate: false });
  } finally {
    if (saved === undefined) delete process.env.NNSERVE_KERNELS;
    else process.env.NNSERVE_KERNELS = saved;
  }
}

const views = { gather: openWith('gather'), js: openWith('js') };
const ROUNDS = 5;
const speed = [5000, 50000].map((searchK) => {
  const times: Record<keyof typeof views | 'annoy', number[]> = { gather: [], js: [], annoy: [] };
  // Alternating rounds over the same queries: the machine is shared and noisy, ratios come from one run.
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of ['gather', 'js'] as const) {
      const t = performance.now();
      for (let q = 0; q < QUERIES; q++) views[name].getNnsByVector(queries.subarray(q * F, (q + 1) * F), 10, searchK);
      times[name].push((performance.now() - t) / 1000);
    }
    times.annoy.push(annoyBatch('euclidean', F, indexFile, queriesFile, 10, searchK, join(DATA_DIR, 'large-ids.tmp')).seconds);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const qps = { gather: QUERIES / median(times.gather), js: QUERIES / median(times.js), annoy: QUERIES / median(times.annoy) };
  log(`search_k ${searchK}: gathering SIMD ${qps.gather.toFixed(1)} q/s, JS ${qps.js.toFixed(1)} q/s (${(qps.gather / qps.js).toFixed(2)}×), Annoy ${qps.annoy.toFixed(1)} q/s, median of ${ROUNDS} alternating rounds`);
  return { searchK, queries: QUERIES, rounds: ROUNDS, qpsGather: qps.gather, qpsJs: qps.js, qpsAnnoy: qps.annoy, gatherVsJs: qps.gather / qps.js, gatherVsAnnoy: qps.gather / qps.annoy };
});

// The service end to end: 2 workers serve the same file (a symlink, as a mounted volume would be),
// each with its own gathering scratch; concurrent searches must give Annoy's ids from one copy.
const HTTP_SEARCH_K = 5000;
const served = await (async () => {
  const dir = tempIndexDir('large');
  symlinkSync(indexFile, join(dir.dir, 'large.ann'));
  writeFileSync(join(dir.dir, 'large.json'), JSON.stringify({ metric: 'euclidean', dimensions: F }));
  const service = await startService({ indexDir: dir.dir, workers: 2, env: { NNSERVE_DEMO: 'false' }, readyTimeoutMs: 600_000 });
  try {
    const want = annoyIds.get(HTTP_SEARCH_K)!;
    // Twice: the first pass also opens the index and compiles the code in each worker; the second is timed.
    const pass = () => Promise.all(Array.from({ length: QUERIES }, async (_, q) => {
      const res = await fetch(`${service.base}/v1/indexes/large/search`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ vector: Array.from(queries.subarray(q * F, (q + 1) * F)), n: 10, search_k: HTTP_SEARCH_K }),
      });
      const body = (await res.json()) as { ids?: number[] };
      return res.status === 200 && body.ids !== undefined && body.ids.every((id, j) => id === want[q * 10 + j]);
    }));
    const first = await pass();
    const t = performance.now();
    const second = await pass();
    const seconds = (performance.now() - t) / 1000;
    const rss = rssOf(service.pid);
    const identical = Math.min(first.filter(Boolean).length, second.filter(Boolean).length);
    log(`nnserve serve, 2 workers: ${identical} of ${QUERIES} concurrent HTTP searches (search_k ${HTTP_SEARCH_K}, both passes) have Annoy's ids, ${(QUERIES / seconds).toFixed(0)} req/s in the second pass, RSS ${(rss.rssMiB / 1024).toFixed(2)} GiB`);
    return { workers: 2, searchK: HTTP_SEARCH_K, queries: QUERIES, identical, reqPerSecond: QUERIES / seconds, rssMiB: rss.rssMiB };
  } finally {
    await service.stop();
    dir.remove();
  }
})();

const last = ITEMS - 1;
const lastByte = last * index.nodeBytes;
const want = readFloats(vectorsFile, last * F, F);
const lastItemMatches = index.getItemVector(last).every((x, i) => x === want[i]);
log(`item ${last} at byte ${lastByte} (${(lastByte / 2 ** 30).toFixed(2)} GiB): stored vector ${lastItemMatches ? 'matches' : 'DIFFERS FROM'} the input`);

const ok = searches.every((s) => s.identical === s.queries) && lastItemMatches && served.identical === served.queries;
const results = { benchmark: 'large-index', machine: machine(), loaded, searches, speed, served, lastItem: { item: last, byte: lastByte, matches: lastItemMatches }, ok };
const md = [
  '# An index over 4 GiB', '', machineLine(results.machine), '',
  `${ITEMS.toLocaleString('en-US')} items × ${F} dimensions, euclidean, ${TREES} trees, built by Annoy: ${(loaded.bytes / 2 ** 30).toFixed(2)} GiB.`,
  `Loaded into a ${loaded.buffer} with the ${loaded.kernels} kernels: read ${loaded.readSeconds.toFixed(1)} s, open + validate ${loaded.openSeconds.toFixed(1)} s.`,
  ...searches.map((s) => `- search_k ${s.searchK}: ${s.identical} of ${s.queries} answers with Annoy's exact ids.`),
  `- item ${last} (byte ${(lastByte / 2 ** 30).toFixed(2)} GiB): stored vector ${lastItemMatches ? 'matches' : 'differs from'} the input.`,
  `- \`nnserve serve\` with ${served.workers} workers: ${served.identical} of ${served.queries} concurrent HTTP searches at search_k ${served.searchK} with Annoy's exact ids (two passes), ${served.reqPerSecond.toFixed(0)} req/s in the second, RSS ${(served.rssMiB / 1024).toFixed(2)} GiB (one copy of the index).`,
  '', `Single-thread q/s on this index (n = 10, ${QUERIES} queries, median of ${ROUNDS} alternating rounds):`, '',
  '| search_k | gathering WASM SIMD | plain JS | gathering ÷ JS | Annoy (C++ -O3 -march=native) | gathering ÷ Annoy |', '|---|---|---|---|---|---|',
  ...speed.map((r) => `| ${r.searchK} | ${r.qpsGather.toFixed(1)} | ${r.qpsJs.toFixed(1)} | ${r.gatherVsJs.toFixed(2)}× | ${r.qpsAnnoy.toFixed(1)} | ${r.gatherVsAnnoy.toFixed(2)}× |`),
].join('\n');
const paths = writeResults('large-index', results, md);
log(`${ok ? 'OK' : 'FAILED'} → ${paths.json}`);
process.stdout.write(`${md}\n`);
process.exitCode = ok ? 0 : 1;
