// HTTP benchmark: bare Fastify, nnserve by-item GET (demo index) and vector search (Fashion-MNIST,
// search_k 5000) with 1 and 2 query workers, against the in-process engine on the same queries.
// Run: npm run build && node dist/bench/http.js [--quick] [--seconds=S] [--connections=C]
// Load comes from wrk (Debian package) on loopback. Writes bench/results/http.json and http.md.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureAnnoyRef } from './lib/annoy-ref.js';
import { fashionMnist, row, rows } from './lib/datasets.js';
import { ensureAnnoyIndex, openTimed, searchAll, warmUp } from './lib/engine-run.js';
import { publishIndex, tempIndexDir } from './lib/index-dir.js';
import { markdownTable } from './lib/markdown.js';
import { BENCH_DIR, benchArgs, machine, machineLine, NOISE_NOTE, REPO_DIR, writeResults } from './lib/results.js';
import { getJson, startNodeApp, startService, waitForIndex, type RunningProcess } from './lib/service.js';
import { round } from './lib/stats.js';
import { postBodiesScript, randomGetScript, runWrk, type WrkResult } from './lib/wrk.js';

const SEARCH_K = 5000;
const N = 10;
const TREES = 50;
const INDEX = 'fashion-mnist';

export interface HttpRow extends WrkResult {
  scenario: 'bare-fastify' | 'by-item' | 'search';
  workers: number | null;
  label: string;
}

export interface HttpResults {
  benchmark: 'http';
  machine: ReturnType<typeof machine>;
  quick: boolean;
  note: string;
  seconds: number;
  dataset: string;
  searchK: number;
  inProcessQps: number;
  rows: HttpRow[];
  targets: { name: string; ratio: number; goal: number; met: boolean }[];
}

const args = benchArgs();
const quick = args.quick;
const seconds = args.number('seconds', quick ? 3 : 12);
const warmSeconds = quick ? 1 : 3;
const getConnections = args.number('connections', 16);
const searchConnections = args.number('search-connections', 8);
const log = (line: string) => process.stderr.write(`[http] ${line}\n`);

async function measure(label: string, url: string, script: string, connections: number): Promise<WrkResult> {
  const scriptFile = join(BENCH_DIR, 'results', `wrk-${label.replace(/[^a-z0-9]+/gi, '-')}.lua.tmp`);
  await runWrk({ url, script, scriptFile, connections, seconds: warmSeconds });
  const r = await runWrk({ url, script, scriptFile, connections, seconds });
  log(`${label}: ${r.requestsPerSecond} req/s, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, errors ${r.errors}`);
  return r;
}

export function httpMarkdown(r: HttpResults): string {
  const out = [`# HTTP: nnserve vs bare Fastify and the in-process engine`, '', `${machineLine(r.machine)}${r.quick ? ' · **--quick sizes**' : ''}`, '', `> ${r.note} The load generator (wrk, 1 thread) runs on the same 2 vCPUs as the server.`, ''];
  out.push(`Each row: ${r.seconds} s of wrk after a warm-up. by-item = \`GET /v1/indexes/demo/items/item-<random>/neighbors?n=10\` (demo: 10,000 × 40 angular, 10 trees); ` +
    `search = \`POST /v1/indexes/${INDEX}/search\` with the ${r.dataset} test vectors, n=${N}, search_k=${r.searchK}. ` +
    `In-process engine, same file and queries, one thread: **${r.inProcessQps.toLocaleString('en-US')} q/s**.`, '');
  out.push(markdownTable(
    ['scenario', 'workers', 'connections', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'errors'],
    r.rows.map((x) => [x.label, x.workers ?? '—', x.connections, x.requestsPerSecond, x.latencyMs.p50, x.latencyMs.p90, x.latencyMs.p99, x.errors]),
  ), '');
  out.push('Targets:', '');
  out.push(markdownTable(['target', 'measured', 'goal', 'met'], r.targets.map((t) => [t.name, `${t.ratio.toFixed(2)}×`, `≥ ${t.goal}×`, t.met ? 'yes' : 'no'])), '');
  return out.join('\n');
}

async function main(): Promise<void> {
  const startedOn = machine();
  ensureAnnoyRef();
  const ds = quick ? fashionMnist(10_000, 200) : fashionMnist();
  const annFile = ensureAnnoyIndex(ds, TREES);
  const nq = rows(ds.queries, ds.dimensions);

  // The in-process reference: same file, same queries, one thread, no HTTP.
  const { index } = openTimed(annFile, ds);
  warmUp(index, ds.queries, SEARCH_K);
  const inProcessQps = Math.max(searchAll(index, ds.queries, N, SEARCH_K).qps, searchAll(index, ds.queries, N, SEARCH_K).qps);
  log(`in-process engine: ${inProcessQps.toFixed(0)} q/s at search_k ${SEARCH_K}`);

  const dir = tempIndexDir('http');
  const bodiesFile = join(dir.dir, '.bodies.jsonl');
  const lines: string[] = [];
  for (let q = 0; q < nq; q++) lines.push(JSON.stringify({ vector: Array.from(row(ds.queries, ds.dimensions, q)), n: N, search_k: SEARCH_K }));
  writeFileSync(bodiesFile, `${lines.join('\n')}\n`);

  const results: HttpRow[] = [];
  let proc: RunningProcess | null = null;
  try {
    proc = await startNodeApp(join(REPO_DIR, 'dist/bench/fastify-bare.js'), '/readyz');
    const bare = await measure('bare Fastify', proc.base, randomGetScript('/v1/indexes/demo/items/item-%d/neighbors?n=10', 10_000), getConnections);
    results.push({ ...bare, scenario: 'bare-fastify', workers: null, label: 'bare Fastify GET (fixed body)' });
    await proc.stop();
    proc = null;

    for (const workers of [1, 2]) {
      // The first start finds an empty directory and creates `demo`; the Fashion-MNIST index is then published beside it.
      proc = await startService({ indexDir: dir.dir, workers });
      await waitForIndex(proc.base, 'demo', () => true);
      if (workers === 1) publishIndex(dir.dir, INDEX, annFile, { metric: ds.metric, dimensions: ds.dimensions, description: ds.title });
      await waitForIndex(proc.base, INDEX, () => true);
      const probe = await fetch(`${proc.base}/v1/indexes/${INDEX}/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: lines[0] });
      if (probe.status !== 200) throw new Error(`search probe answered ${probe.status}: ${await probe.text()}`);
      await probe.arrayBuffer();
      await getJson(`${proc.base}/v1/indexes/demo/items/item-1/neighbors?n=10`);

      const byItem = await measure(`by-item, ${workers} worker(s)`, proc.base, randomGetScript('/v1/indexes/demo/items/item-%d/neighbors?n=10', 10_000), getConnections);
      results.push({ ...byItem, scenario: 'by-item', workers, label: 'nnserve by-item GET' });
      const search = await measure(`search, ${workers} worker(s)`, proc.base, postBodiesScript(`/v1/indexes/${INDEX}/search`, bodiesFile), searchConnections);
      results.push({ ...search, scenario: 'search', workers, label: `nnserve search (search_k ${SEARCH_K})` });
      await proc.stop();
      proc = null;
    }
  } finally {
    await proc?.stop();
    dir.remove();
  }

  const bare = results.find((r) => r.scenario === 'bare-fastify')!;
  const byItemBest = Math.max(...results.filter((r) => r.scenario === 'by-item').map((r) => r.requestsPerSecond));
  const search2 = results.find((r) => r.scenario === 'search' && r.workers === 2)!;
  const targets = [
    { name: 'by-item GET ÷ bare Fastify (best worker count)', ratio: round(byItemBest / bare.requestsPerSecond), goal: 0.7 },
    { name: 'search over HTTP, 2 workers ÷ in-process single thread', ratio: round(search2.requestsPerSecond / inProcessQps), goal: 1.5 },
  ].map((t) => ({ ...t, met: t.ratio >= t.goal }));

  const out: HttpResults = {
    benchmark: 'http', machine: startedOn, quick, note: NOISE_NOTE, seconds, dataset: ds.title, searchK: SEARCH_K,
    inProcessQps: Math.round(inProcessQps), rows: results, targets,
  };
  const md = httpMarkdown(out);
  const paths = writeResults(quick ? 'http-quick' : 'http', out, md);
  process.stdout.write(`${md}\n`);
  log(`→ ${paths.json}, ${paths.md}`);
}

await main();
