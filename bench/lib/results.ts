import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The compiled tree this code runs from (dist/ normally): the service CLI and the other benchmarks are taken from the same tree. */
export const DIST_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/**
 * The repository (bench/data, bench/results, the reference binary). NNSERVE_REPO overrides it, so a
 * private build elsewhere (e.g. `tsc --outDir /tmp/x/dist`, with node_modules linked beside it) can
 * run against this checkout while other work rebuilds ./dist.
 */
export const REPO_DIR = process.env.NNSERVE_REPO ? resolve(process.env.NNSERVE_REPO) : dirname(DIST_DIR);
export const BENCH_DIR = join(REPO_DIR, 'bench');
export const RESULTS_DIR = join(BENCH_DIR, 'results');
export const DATA_DIR = join(BENCH_DIR, 'data');

export const NOISE_NOTE =
  'Figures come from a 2-vCPU VM shared with other work, so absolute numbers are noisy (±25 % is normal); ' +
  'nnserve and the reference are measured side by side in the same run, and the ratios are the signal.';

export interface Machine {
  date: string;
  node: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  loadAverageAtStart: number[];
}

export function machine(): Machine {
  const list = cpus();
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpus: list.length,
    cpuModel: list[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    loadAverageAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

export function machineLine(m: Machine): string {
  return `${m.date} · Node ${m.node} · ${m.cpus} × ${m.cpuModel} · ${m.memoryGiB} GiB · load average at start ${m.loadAverageAtStart.join(' / ')}`;
}

/** Writes bench/results/<name>.json and <name>.md; returns their paths. */
export function writeResults(name: string, json: object, markdown: string): { json: string; md: string } {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const paths = { json: join(RESULTS_DIR, `${name}.json`), md: join(RESULTS_DIR, `${name}.md`) };
  // The load at the end, beside the one at the start, tells how busy the machine was meanwhile.
  const loadAverageAtEnd = loadavg().map((x) => Math.round(x * 100) / 100);
  writeFileSync(paths.json, `${JSON.stringify({ ...json, loadAverageAtEnd }, null, 2)}\n`);
  writeFileSync(paths.md, `${markdown.trimEnd()}\n\n_Load average at the end: ${loadAverageAtEnd.join(' / ')}._\n`);
  return paths;
}

export function readResults<T>(name: string): T | null {
  try {
    return JSON.parse(readFileSync(join(RESULTS_DIR, `${name}.json`), 'utf8')) as T;
  } catch {
    return null;
  }
}

/** Flags shared by every benchmark: `--quick` for small sizes, `--name=value` for the rest. */
export interface BenchArgs {
  quick: boolean;
  get(name: string): string | undefined;
  number(name: string, fallback: number): number;
}

export function benchArgs(argv = process.argv.slice(2)): BenchArgs {
  const values = new Map<string, string>();
  for (const arg of argv) {
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(arg);
    if (!m) throw new Error(`unknown argument ${arg} (use --quick or --name=value)`);
    values.set(m[1], m[2] ?? 'true');
  }
  return {
    quick: values.get('quick') === 'true',
    get: (name) => values.get(name),
    number(name, fallback) {
      const raw = values.get(name);
      if (raw === undefined) return fallback;
      const value = Number(raw);
      if (!Number.isFinite(value)) throw new Error(`--${name} must be a number (got ${raw})`);
      return value;
    },
  };
}
