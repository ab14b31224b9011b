// Hot-swap under load: concurrent clients query one index while its file is replaced every
// --swap-ms (copy to a temporary name, then rename over `<name>.ann` and `<name>.json`), alternating
// two versions whose answers differ. Counts requests, failures and version mix-ups (an answer whose
// content belongs to another file than the version it names), latency percentiles, RSS before/after.
// Run: npm run build && node dist/bench/hotswap.js [--quick] [--seconds=S] [--swap-ms=MS] [--clients=C]
// Writes bench/results/hotswap.json and hotswap.md.
import { renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { annoyBuild, ensureAnnoyRef } from './lib/annoy-ref.js';
import { gaussian, gaussianVectors, row, type Dataset } from './lib/datasets.js';
import { openTimed } from './lib/engine-run.js';
import { publishIndex, stageIndex, tempIndexDir } from './lib/index-dir.js';
import { closedLoop, type LoadSummary } from './lib/load.js';
import { markdownTable } from './lib/markdown.js';
import { benchArgs, DATA_DIR, machine, machineLine, NOISE_NOTE, writeResults } from './lib/results.js';
import { getJson, rssOf, startService, waitForIndex, type IndexInfo, type Rss } from './lib/service.js';
import { summarize } from './lib/stats.js';

const NAME = 'swap';
const TREES = 10;
const SEARCH_K = 1000;
const PROBES = 200;
type Tag = 'A' | 'B';

export interface HotswapResults {
  benchmark: 'hotswap';
  machine: ReturnType<typeof machine>;
  quick: boolean;
  note: string;
  index: { items: number; dimensions: number; trees: number; bytes: number };
  workers: number;
  clients: number;
  seconds: number;
  swapEveryMs: number;
  swaps: number;
  /** Versions the service published during the run (seen by polling GET /v1/indexes/{name}). */
  versionsSeen: number;
  /** Time from the rename to the new version showing in GET /v1/indexes/{name}, ms. */
  swapVisibleMs: { p50: number; max: number; count: number };
  load: LoadSummary;
  statusCounts: Record<string, number>;
  /** Answers whose content matches the other file than the one their `version` names. */
  mixups: number;
  /** Answers attributed to each file: both must show up, or the mix-up check saw nothing. */
  answersByFile: Record<Tag, number>;
  /** Search answers matching neither file (should be 0: the engine is deterministic). */
  unexpected: number;
  /** A client got an older version after it had already seen a newer one. */
  staleAfterNewer: number;
  rssBefore: Rss;
  /** Right after the load stops. */
  rssAfter: Rss;
  /** After `idleSeconds` with no requests and no swaps: memory a lagging GC would have returned by then. */
  rssAfterIdle: Rss;
  idleSeconds: number;
  /** VmRSS every 500 ms during the run, with the number of swaps done so far. */
  rssTimeline: { seconds: number; swaps: number; rssMiB: number }[];
  /** Least-squares slope of RSS over swaps during the run: memory kept per replaced version. */
  rssMiBPerSwap: number;
}

const args = benchArgs();
const quick = args.quick;
const seconds = args.number('seconds', quick ? 8 : 30);
const swapEveryMs = args.number('swap-ms', 1500);
const clients = args.number('clients', 8);
const workers = args.number('workers', 2);
// Full size is ~120 MB so that a replaced version left in memory shows clearly in RSS.
const items = args.number('items', quick ? 10_000 : 200_000);
const dimensions = args.number('dimensions', quick ? 32 : 128);
const idleSeconds = args.number('idle-seconds', quick ? 3 : 10);

function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}
const log = (line: string) => process.stderr.write(`[hotswap] ${line}\n`);

/** Version B is version A negated: item vectors flip sign (item reads tell them apart) and vector searches find other neighbours. */
function buildVersions(ds: Dataset): Record<Tag, string> {
  const a = join(DATA_DIR, `${ds.key}.swap-A.ann`);
  const b = join(DATA_DIR, `${ds.key}.swap-B.ann`);
  annoyBuild(ds.metric, ds.dimensions, TREES, 1, ds.trainFile, a);
  const negatedFile = join(DATA_DIR, `${ds.key}.negated.f32.tmp`);
  const negated = ds.train.map((x) => -x);
  writeFileSync(negatedFile, new Uint8Array(negated.buffer));
  annoyBuild(ds.metric, ds.dimensions, TREES, 1, negatedFile, b);
  unlinkSync(negatedFile);
  return { A: a, B: b };
}

async function main(): Promise<void> {
  const startedOn = machine();
  ensureAnnoyRef();
  const ds = gaussian(items, dimensions, 1);
  const files = buildVersions(ds);
  const probes = gaussianVectors(PROBES, ds.dimensions, 4242);
  const expected: Record<Tag, string[]> = { A: [], B: [] };
  for (const tag of ['A', 'B'] as const) {
    const { index } = openTimed(files[tag], ds);
    for (let p = 0; p < PROBES; p++) expected[tag].push(index.getNnsByVector(row(probes, ds.dimensions, p), 10, SEARCH_K).ids.join(','));
  }

  const dir = tempIndexDir('hotswap');
  const manifest = (tag: Tag) => ({ metric: ds.metric, dimensions: ds.dimensions, description: tag, checksum: true });
  publishIndex(dir.dir, NAME, files.A, manifest('A'));
  const staged = { A: stageIndex(dir.dir, NAME, 'A', files.A, manifest('A')), B: stageIndex(dir.dir, NAME, 'B', files.B, manifest('B')) };
  const proc = await startService({ indexDir: dir.dir, workers });
  try {
    const first = await waitForIndex(proc.base, NAME, () => true);
    await sleep(1000);
    const rssBefore = rssOf(proc.pid);

    // version → file, from the index listing (the manifest description names the file).
    const versionTag = new Map<number, Tag>([[first.version, first.description as Tag]]);
    const published: { tag: Tag; at: number }[] = [];
    const visibleMs: number[] = [];
    let polling = true;
    const poller = (async () => {
      let last = first.version;
      while (polling) {
        try {
          const info = await getJson<IndexInfo>(`${proc.base}/v1/indexes/${NAME}`);
          if (!versionTag.has(info.version)) versionTag.set(info.version, info.description as Tag);
          if (info.version !== last) {
            last = info.version;
            const pub = [...published].reverse().find((p) => p.tag === info.description);
            if (pub) visibleMs.push(Date.now() - pub.at);
          }
        } catch {
          // counted by the clients; the poller only maps versions
        }
        await sleep(50);
      }
    })();

    let swapping = true;
    let swaps = 0;
    const runStart = performance.now();
    const rssTimeline: HotswapResults['rssTimeline'] = [];
    const sampler = setInterval(() => {
      rssTimeline.push({ seconds: Math.round((performance.now() - runStart) / 100) / 10, swaps, rssMiB: rssOf(proc.pid).rssMiB });
    }, 500);
    const swapper = (async () => {
      let next: Tag = 'B';
      while (swapping) {
        await sleep(swapEveryMs);
        if (!swapping) break;
        // Copy, then rename (manifest first, index file last, as the README says): readers of the
        // path always see a whole file. The copy runs off this event loop, which also runs the
        // clients: a synchronous copy of the file (60-220 ms here, longer when the kernel throttles
        // write-back) stalled them, and counted in their latency as if the server had been slow.
        await copyFile(staged[next].ann, join(dir.dir, `.${NAME}.incoming.ann`));
        await copyFile(staged[next].json, join(dir.dir, `.${NAME}.incoming.json`));
        renameSync(join(dir.dir, `.${NAME}.incoming.json`), join(dir.dir, `${NAME}.json`));
        renameSync(join(dir.dir, `.${NAME}.incoming.ann`), join(dir.dir, `${NAME}.ann`));
        published.push({ tag: next, at: Date.now() });
        swaps++;
        next = next === 'A' ? 'B' : 'A';
      }
    })();

    const pool = new Pool(proc.base, { connections: clients });
    const statusCounts: Record<string, number> = {};
    const observations: { version: number; tag: Tag }[] = [];
    let unexpected = 0;
    let staleAfterNewer = 0;
    const newest = new Array<number>(clients).fill(0);
    let counter = 0;
    const load = await closedLoop(clients, seconds * 1000, async (client) => {
      const k = counter++;
      const p = k % PROBES;
      let res;
      if (k % 2 === 0) {
        res = await pool.request({ method: 'POST', path: `/v1/indexes/${NAME}/search`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ vector: Array.from(row(probes, ds.dimensions, p)), n: 10, search_k: SEARCH_K }) });
      } else {
        res = await pool.request({ method: 'GET', path: `/v1/indexes/${NAME}/items/${(k * 7919) % 10_000}` });
      }
      statusCounts[res.statusCode] = (statusCounts[res.statusCode] ?? 0) + 1;
      if (res.statusCode !== 200) {
        await res.body.arrayBuffer();
        return false;
      }
      const body = (await res.body.json()) as { version: number; ids?: (string | number)[]; id?: string | number; vector?: number[] };
      let tag: Tag | null;
      if (body.ids) {
        const got = body.ids.join(',');
        tag = got === expected.A[p] ? 'A' : got === expected.B[p] ? 'B' : null;
        if (tag === null) unexpected++;
      } else {
        const item = Number(body.id);
        const stored = ds.train[item * ds.dimensions];
        tag = Math.sign(body.vector![0]) === Math.sign(stored) ? 'A' : 'B';
      }
      if (tag) observations.push({ version: body.version, tag });
      if (body.version < newest[client]) staleAfterNewer++;
      newest[client] = Math.max(newest[client], body.version);
      return true;
    });
    swapping = false;
    await swapper;
    await sleep(1000);
    polling = false;
    await poller;
    await pool.close();
    clearInterval(sampler);
    await sleep(1500);
    const rssAfter = rssOf(proc.pid);
    await sleep(idleSeconds * 1000);
    const rssAfterIdle = rssOf(proc.pid);
    const rssMiBPerSwap = slope(rssTimeline.map((x) => x.swaps), rssTimeline.map((x) => x.rssMiB));
    log(`RSS ${rssBefore.rssMiB} MiB before, ${rssAfter.rssMiB} MiB after ${swaps} swaps, ${rssAfterIdle.rssMiB} MiB after ${idleSeconds} s idle; ${rssMiBPerSwap.toFixed(1)} MiB per swap`);

    // A version first seen only by the clients (published and replaced between two polls) takes the tag its first answer showed.
    let mixups = 0;
    for (const o of observations) {
      const known = versionTag.get(o.version);
      if (known === undefined) versionTag.set(o.version, o.tag);
      else if (known !== o.tag) mixups++;
    }
    const answersByFile: Record<Tag, number> = { A: 0, B: 0 };
    for (const o of observations) answersByFile[o.tag]++;
    const visible = summarize(visibleMs);
    const results: HotswapResults = {
      benchmark: 'hotswap', machine: startedOn, quick, note: NOISE_NOTE,
      index: { items: ds.train.length / ds.dimensions, dimensions: ds.dimensions, trees: TREES, bytes: first.bytes },
      workers, clients, seconds, swapEveryMs, swaps, versionsSeen: versionTag.size,
      swapVisibleMs: { p50: Math.round(visible.p50), max: Math.round(visible.max), count: visibleMs.length },
      load, statusCounts, mixups, answersByFile, unexpected, staleAfterNewer, rssBefore, rssAfter, rssAfterIdle, idleSeconds, rssTimeline, rssMiBPerSwap: Math.round(rssMiBPerSwap * 10) / 10,
    };
    const md = hotswapMarkdown(results);
    const paths = writeResults(quick ? 'hotswap-quick' : 'hotswap', results, md);
    process.stdout.write(`${md}\n`);
    log(`→ ${paths.json}, ${paths.md}`);
  } finally {
    await proc.stop();
    dir.remove();
  }
}

export function hotswapMarkdown(r: HotswapResults): string {
  const out = [`# Hot-swap under load`, '', `${machineLine(r.machine)}${r.quick ? ' · **--quick sizes**' : ''}`, '', `> ${r.note}`, ''];
  out.push(`${r.clients} closed-loop clients (undici) for ${r.seconds} s against ${r.workers} query workers; half vector searches (n=10, search_k ${SEARCH_K}), half item reads. ` +
    `Every ${r.swapEveryMs} ms the index file (${r.index.items.toLocaleString('en-US')} × ${r.index.dimensions} angular, ${r.index.trees} trees, ${(r.index.bytes / 2 ** 20).toFixed(1)} MiB) ` +
    `is replaced by copy-then-rename, alternating two versions whose answers differ; manifests carry sha256.`, '');
  const l = r.load;
  out.push(markdownTable(
    ['requests', 'req/s', 'failures', 'status codes', 'swaps', 'versions seen', 'answers from A / B', 'mix-ups', 'unexpected answers', 'stale after newer'],
    [[l.requests, l.requestsPerSecond, l.failures, Object.entries(r.statusCounts).map(([k, v]) => `${k}: ${v}`).join(', '), r.swaps, r.versionsSeen, `${r.answersByFile.A} / ${r.answersByFile.B}`, r.mixups, r.unexpected, r.staleAfterNewer]],
  ), '');
  out.push(markdownTable(
    ['latency p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'swap visible after (p50 / max ms)'],
    [[l.latencyMs.p50, l.latencyMs.p90, l.latencyMs.p99, l.latencyMs.max, `${r.swapVisibleMs.p50} / ${r.swapVisibleMs.max}`]],
  ), '');
  out.push(markdownTable(
    ['RSS before MiB', 'RSS after MiB', `after ${r.idleSeconds} s idle`, 'peak MiB', 'RSS growth per swap (slope)', 'index MiB'],
    [[r.rssBefore.rssMiB, r.rssAfter.rssMiB, r.rssAfterIdle.rssMiB, r.rssAfterIdle.peakMiB, `${r.rssMiBPerSwap} MiB`, (r.index.bytes / 2 ** 20).toFixed(1)]],
  ), '');
  out.push('A growth per swap close to the index size means replaced versions stay in memory (each version is a fresh shared WebAssembly memory); near 0 means they are released.', '');
  return out.join('\n');
}

await main();
