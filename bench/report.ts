// Builds bench/results/report.md and the SVG plots from the JSON the benchmarks wrote.
// Run: node dist/bench/report.js [--quick]   (run-all calls it; re-run it alone to redraw)
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EngineResults } from './engine.js';
import type { HotswapResults } from './hotswap.js';
import type { HttpResults } from './http.js';
import { benchArgs, NOISE_NOTE, readResults, RESULTS_DIR } from './lib/results.js';
import { barChart, lineChart } from './lib/svg.js';
import type { RssResults } from './rss.js';

const quick = benchArgs().quick;
const suffix = quick ? '-quick' : '';

function load<T>(name: string): T | null {
  return readResults<T>(`${name}${suffix}`);
}

/** Writes an SVG into bench/results and returns the Markdown that embeds it (path relative to the report). */
function plot(file: string, svg: string, alt: string): string {
  writeFileSync(join(RESULTS_DIR, `${file}${suffix}.svg`), svg);
  return `![${alt}](${file}${suffix}.svg)`;
}

function section(name: string): string {
  const path = join(RESULTS_DIR, `${name}${suffix}.md`);
  if (!existsSync(path)) return `_No ${name} results: run \`node dist/bench/${name}.js${quick ? ' --quick' : ''}\`._\n`;
  // The report has one H1; each benchmark's headings move down a level.
  return readFileSync(path, 'utf8').replace(/^(#+) /gm, '#$1 ');
}

function enginePlots(r: EngineResults): string[] {
  const out: string[] = [];
  for (const d of r.datasets) {
    const series = [
      { name: 'nnserve (WASM SIMD, 1 thread)', points: d.search.map((s) => ({ x: s.nnserve.recall, y: s.nnserve.qps, label: `k=${s.searchK}` })) },
      { name: 'Annoy C++ -O3 -march=native', points: d.search.map((s) => ({ x: s.annoy.recall, y: s.annoy.qps })) },
    ];
    out.push(plot(`recall-qps-${d.key.replace(/-\d+-\d+(-\d+)?$/, '')}`, lineChart({
      title: `${d.title}: recall@${r.k} vs queries/s (${d.searchTrees} trees)`,
      xLabel: `recall@${r.k}`, yLabel: 'queries per second (log)', series, logY: true,
    }), `recall vs q/s, ${d.title}`));
  }
  out.push(plot('build-time', barChart({
    title: 'Build time after adding the items, seconds (lower is better)', yLabel: 'seconds',
    seriesNames: ['Annoy build(), 1 thread', 'nnserve, 1 thread', 'nnserve, 2 threads'],
    groups: r.datasets.map((d) => ({ label: `${d.title.split(',')[0]} · ${d.build.trees} trees`, values: [d.build.annoySeconds, d.build.nnserve1BuildSeconds, d.build.nnserve2BuildSeconds] })),
  }), 'build time'));
  return out;
}

function httpPlots(r: HttpResults, swap: HotswapResults | null): string[] {
  const label = (x: HttpResults['rows'][number]) =>
    x.scenario === 'bare-fastify' ? `bare Fastify (${x.workers}w pair)` : x.scenario === 'search' ? `search · ${x.workers}w · ${x.connections}c` : `${x.scenario} · ${x.workers}w`;
  const groups = r.rows.map((x) => ({ label: label(x), values: [x.latencyMs.p50, x.latencyMs.p99] as (number | null)[] }));
  if (swap) groups.push({ label: 'during hot-swaps', values: [swap.load.latencyMs.p50, swap.load.latencyMs.p99] });
  const gets = r.rows.filter((x) => x.scenario !== 'search' && x.scenario !== 'bare-fastify-post');
  const searches = r.rows.filter((x) => x.scenario === 'search');
  return [
    plot('http-get-throughput', barChart({
      title: 'GET throughput under wrk, requests/s', yLabel: 'requests per second',
      seriesNames: ['req/s'],
      groups: gets.map((x) => ({ label: label(x), values: [x.requestsPerSecond] })),
    }), 'GET throughput'),
    plot('http-search-throughput', barChart({
      title: `Vector search, queries/s (search_k ${r.searchK}): HTTP vs in-process`, yLabel: 'queries per second',
      seriesNames: ['in-process engine, 1 thread (measured just before)', 'over HTTP'],
      groups: searches.map((x) => ({
        label: `${x.workers} worker${x.workers > 1 ? 's' : ''}, ${x.connections} clients`,
        values: [r.inProcessRuns.find((p) => p.workers === x.workers)?.qps ?? null, x.requestsPerSecond],
      })),
    }), 'search throughput'),
    plot('http-latency', barChart({ title: 'Latency under load, ms', yLabel: 'milliseconds', seriesNames: ['p50', 'p99'], groups }), 'latency percentiles'),
  ];
}

function rssPlot(r: RssResults): string {
  const sizes = [...new Set(r.rows.map((x) => x.indexMiB))].sort((a, b) => a - b);
  const workers = [...new Set(r.rows.map((x) => x.workers))].sort((a, b) => a - b);
  return plot('memory', barChart({
    title: 'Service RSS after queries, MiB, by index size and workers', yLabel: 'MiB', xLabel: 'index file size',
    seriesNames: ['index file', ...workers.map((w) => `${w} worker${w > 1 ? 's' : ''}`)],
    groups: sizes.map((size) => ({
      label: `${size} MiB`,
      values: [size, ...workers.map((w) => r.rows.find((x) => x.indexMiB === size && x.workers === w)?.afterQueries.rssMiB ?? null)],
    })),
  }), 'memory vs workers and index size');
}

const engine = load<EngineResults>('engine');
const http = load<HttpResults>('http');
const rss = load<RssResults>('rss');
const swap = load<HotswapResults>('hotswap');

const lines = ['# nnserve benchmark report', '', `> ${NOISE_NOTE}`, ''];
const summary: string[] = [];
if (engine) {
  for (const d of engine.datasets) {
    const mid = d.search.find((s) => s.searchK === 5000) ?? d.search[0];
    summary.push(`- ${d.title}: at search_k ${mid.searchK}, nnserve ${mid.nnserve.qps.toLocaleString('en-US')} q/s vs Annoy ${mid.annoy.qps.toLocaleString('en-US')} q/s (${mid.qpsRatio.toFixed(2)}×), recall@${engine.k} ${mid.nnserve.recall} vs ${mid.annoy.recall}, identical ids ${(mid.identicalIds * 100).toFixed(1)} %.`);
    const l = d.load;
    summary.push(`- ${d.title}: load ${l.warm.gbPerSecond} GB/s into warm memory (goal ≥ 1, ${l.warm.gbPerSecond >= 1 ? 'met' : 'not met'}), ${l.gbPerSecond} GB/s into fresh memory.`);
  }
}
if (http) for (const t of http.targets.filter((x) => x.goal !== null)) summary.push(`- ${t.name}: ${t.ratio.toFixed(2)}× (goal ≥ ${t.goal}×, ${t.met ? 'met' : 'not met'}).`);
if (rss) for (const c of rss.workerCost) summary.push(`- ${c.indexMiB} MiB index: ${c.fromWorkers} → ${c.toWorkers} workers adds ${c.extraMiB} MiB RSS (${(c.extraMiB / c.indexMiB).toFixed(2)}× the index).`);
if (swap) {
  summary.push(`- Hot-swap: ${swap.swaps} swaps under ${swap.clients} clients, ${swap.load.requests.toLocaleString('en-US')} requests, ${swap.load.failures} failures, ${swap.mixups} version mix-ups, p99 ${swap.load.latencyMs.p99} ms.`);
  if (swap.rssAfterIdle) summary.push(`- Hot-swap memory: RSS ${swap.rssBefore.rssMiB} MiB before, ${swap.rssAfterIdle.rssMiB} MiB after ${swap.idleSeconds} s idle (${swap.rssMiBPerSwap} MiB per swap, index ${(swap.index.bytes / 2 ** 20).toFixed(0)} MiB).`);
}
if (summary.length) lines.push('## Summary', '', ...summary, '');

function swapRssPlot(r: HotswapResults): string {
  return plot('hotswap-rss', lineChart({
    title: `RSS during hot-swaps (${(r.index.bytes / 2 ** 20).toFixed(0)} MiB index, a swap every ${r.swapEveryMs} ms)`,
    xLabel: 'seconds', yLabel: 'VmRSS, MiB',
    series: [{ name: `service RSS (${r.swaps} swaps; ${r.rssMiBPerSwap} MiB per swap)`, points: r.rssTimeline.map((t) => ({ x: t.seconds, y: t.rssMiB })) }],
  }), 'RSS during hot-swaps');
}

const images = [...(engine ? enginePlots(engine) : []), ...(http ? httpPlots(http, swap) : []), ...(rss ? [rssPlot(rss)] : []), ...(swap?.rssTimeline ? [swapRssPlot(swap)] : [])];
if (images.length) lines.push('## Plots', '', ...images.flatMap((i) => [i, '']));
for (const name of ['engine', 'http', 'rss', 'hotswap']) lines.push(section(name), '');

const reportPath = join(RESULTS_DIR, `report${suffix}.md`);
writeFileSync(reportPath, `${lines.join('\n').replace(/\n{3,}/g, '\n\n').trim()}\n`);
process.stderr.write(`[report] → ${reportPath} (${images.length} plots)\n`);
