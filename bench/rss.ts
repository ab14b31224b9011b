// Memory benchmark: resident memory of the service process by query-worker count and by index size.
// Run: npm run build && node dist/bench/rss.js [--quick] [--query-seconds=S]
// Reads VmRSS (and its anon/file/shmem split) from /proc/<pid>/status after the index has loaded and
// again after a burst of queries. Worker threads live in the same process, so VmRSS covers them all.
// Writes bench/results/rss.json and rss.md.
import { existsSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { annoyBuild, ensureAnnoyRef } from './lib/annoy-ref.js';
import { gaussian } from './lib/datasets.js';
import { publishIndex, tempIndexDir } from './lib/index-dir.js';
import { closedLoop } from './lib/load.js';
import { markdownTable } from './lib/markdown.js';
import { benchArgs, DATA_DIR, machine, machineLine, NOISE_NOTE, writeResults } from './lib/results.js';
import { rssOf, startService, waitForIndex, type Rss } from './lib/service.js';

const DIMENSIONS = 128;
const TREES = 10;
/** Angular node = 12 + 4f bytes; 10 trees of splits add about 16 % to the item nodes. */
const BYTES_PER_ITEM = (12 + 4 * DIMENSIONS) * 1.16;

export interface RssRow {
  targetMB: number;
  indexMiB: number;
  items: number;
  workers: number;
  afterLoad: Rss;
  afterQueries: Rss;
  queries: number;
  queryFailures: number;
}

export interface RssResults {
  benchmark: 'rss';
  machine: ReturnType<typeof machine>;
  quick: boolean;
  note: string;
  rows: RssRow[];
  /** Extra RSS of going from the fewest to the most workers, per index size (MiB). */
  workerCost: { indexMiB: number; fromWorkers: number; toWorkers: number; extraMiB: number }[];
}

const args = benchArgs();
const quick = args.quick;
const querySeconds = args.number('query-seconds', quick ? 2 : 6);
const log = (line: string) => process.stderr.write(`[rss] ${line}\n`);

/** A gaussian angular index of about `targetMB` megabytes, built once by annoy-ref and cached in bench/data. */
function indexOfSize(targetMB: number): { file: string; items: number } {
  const items = Math.round((targetMB * 1e6) / BYTES_PER_ITEM);
  const file = join(DATA_DIR, `rss-angular-${items}-${DIMENSIONS}-${TREES}.ann`);
  if (!existsSync(file)) {
    const ds = gaussian(items, DIMENSIONS, 1);
    const built = annoyBuild('angular', DIMENSIONS, TREES, 1, ds.trainFile, file);
    unlinkSync(ds.trainFile);
    unlinkSync(ds.queriesFile);
    log(`built ${targetMB} MB index (${items} items) in ${built.seconds.toFixed(1)} s`);
  }
  return { file, items };
}

async function measure(targetMB: number, workers: number): Promise<RssRow> {
  const { file, items } = indexOfSize(targetMB);
  const dir = tempIndexDir('rss');
  publishIndex(dir.dir, 'big', file, { metric: 'angular', dimensions: DIMENSIONS });
  const proc = await startService({ indexDir: dir.dir, workers });
  try {
    await waitForIndex(proc.base, 'big', () => true);
    await sleep(1500); // the loader thread exits and its garbage goes before the first reading
    const afterLoad = rssOf(proc.pid);
    const pool = new Pool(proc.base, { connections: 8 });
    let seed = 1;
    const load = await closedLoop(8, querySeconds * 1000, async () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const res = await pool.request({ method: 'GET', path: `/v1/indexes/big/items/${seed % items}/neighbors?n=10` });
      await res.body.arrayBuffer();
      return res.statusCode === 200;
    });
    await pool.close();
    await sleep(1000);
    const afterQueries = rssOf(proc.pid);
    const indexMiB = Math.round((statSync(file).size / 2 ** 20) * 10) / 10;
    log(`${indexMiB} MiB index, ${workers} worker(s): RSS ${afterLoad.rssMiB} MiB after load, ${afterQueries.rssMiB} MiB after ${load.requests} queries (${load.failures} failed), peak ${afterQueries.peakMiB} MiB`);
    return { targetMB, indexMiB, items, workers, afterLoad, afterQueries, queries: load.requests, queryFailures: load.failures };
  } finally {
    await proc.stop();
    dir.remove();
  }
}

export function rssMarkdown(r: RssResults): string {
  const out = [`# Memory: service RSS by workers and index size`, '', `${machineLine(r.machine)}${r.quick ? ' · **--quick sizes**' : ''}`, '', `> ${r.note}`, ''];
  out.push(`VmRSS of the whole service process (main thread + query workers) from /proc/<pid>/status. ` +
    `Indexes: gaussian ${DIMENSIONS}-d angular, ${TREES} trees, built by Annoy. "after queries" follows a few seconds of by-item neighbour queries from 8 clients. ` +
    `The index is read into one shared WebAssembly memory (anonymous, counted once), so more workers should add only their own heaps.`, '');
  out.push(markdownTable(
    ['index MiB', 'items', 'workers', 'threads', 'RSS after load', 'RSS after queries', 'peak (VmHWM)', 'anon', 'file', 'queries'],
    r.rows.map((x) => [x.indexMiB, x.items, x.workers, x.afterQueries.threads, x.afterLoad.rssMiB, x.afterQueries.rssMiB, x.afterQueries.peakMiB, x.afterQueries.anonMiB, x.afterQueries.fileMiB, x.queries]),
  ), '');
  out.push('Extra memory of more workers (RSS after queries):', '');
  out.push(markdownTable(
    ['index MiB', 'workers', 'extra MiB', 'MiB per added worker', 'extra ÷ index size'],
    r.workerCost.map((c) => [c.indexMiB, `${c.fromWorkers} → ${c.toWorkers}`, c.extraMiB, (c.extraMiB / (c.toWorkers - c.fromWorkers)).toFixed(1), (c.extraMiB / c.indexMiB).toFixed(2)]),
  ), '');
  out.push('A copy of the index per worker would make "extra ÷ index size" about the number of added workers; a shared index keeps it near the per-worker heap cost alone.', '');
  return out.join('\n');
}

async function main(): Promise<void> {
  const startedOn = machine();
  ensureAnnoyRef();
  const sizes = quick ? [10, 20] : [50, 100, 200];
  const workerCounts = quick ? [1, 4] : [1, 2, 4];
  const rows: RssRow[] = [];
  for (const targetMB of sizes) {
    const largest = targetMB === sizes[sizes.length - 1];
    // Every worker count on the largest index; 1 and 4 on the smaller ones for the size trend.
    for (const workers of largest ? workerCounts : [1, 4]) rows.push(await measure(targetMB, workers));
  }
  const workerCost = sizes.map((targetMB) => {
    const group = rows.filter((x) => x.targetMB === targetMB).sort((a, b) => a.workers - b.workers);
    const first = group[0];
    const last = group[group.length - 1];
    return { indexMiB: first.indexMiB, fromWorkers: first.workers, toWorkers: last.workers, extraMiB: Math.round((last.afterQueries.rssMiB - first.afterQueries.rssMiB) * 10) / 10 };
  });
  const results: RssResults = { benchmark: 'rss', machine: startedOn, quick, note: NOISE_NOTE, rows, workerCost };
  const md = rssMarkdown(results);
  const paths = writeResults(quick ? 'rss-quick' : 'rss', results, md);
  process.stdout.write(`${md}\n`);
  log(`→ ${paths.json}, ${paths.md}`);
}

await main();
