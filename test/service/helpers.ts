import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { request } from 'undici';
import { AnnoyBuilder, allocateStorage, storageBytes, type IndexStorage, type MetricName } from '../../src/annoy/index.js';
import type { IndexManifest } from '../../src/index-files/manifest.js';
import { defaults, type ServiceConfig } from '../../src/service/config.js';
import { startServer, type RunningServer } from '../../src/service/server.js';

import { tempDir, type Teardown } from '../helpers/temp-dir.js';
import { mulberry32 as rng } from '../../src/annoy/random.js';
import { writeFilesAtomic, type FileToWrite } from '../../src/index-files/write-atomic.js';

export { rng, tempDir, type Teardown };


export interface IndexSpec {
  metric?: MetricName;
  dimensions?: number;
  items?: number;
  trees?: number;
  seed?: number;
  /** External ids; omitted = integer ids. */
  ids?: string[];
  description?: string;
  /** Row i = vector of item i; default: random from `seed`. */
  vectors?: number[][];
}

export interface BuiltIndex {
  ann: Uint8Array;
  manifest: IndexManifest;
  ids: string[] | null;
  vectors: number[][];
}

export function buildIndex(name: string, spec: IndexSpec = {}): BuiltIndex {
  const metric = spec.metric ?? 'euclidean';
  const dimensions = spec.dimensions ?? 8;
  const items = spec.vectors?.length ?? spec.items ?? 200;
  const random = rng(spec.seed ?? 1);
  const vectors =
    spec.vectors ??
    Array.from({ length: items }, () => Array.from({ length: dimensions }, () => (metric === 'hamming' ? (random() < 0.5 ? 0 : 1) : random() * 2 - 1)));
  const builder = new AnnoyBuilder(metric, dimensions, { seed: spec.seed ?? 1 });
  vectors.forEach((v, i) => builder.addItem(i, v));
  builder.build(spec.trees ?? 5);
  const ann = builder.save();
  const ids = spec.ids ?? null;
  const manifest: IndexManifest = { metric, dimensions, annoyVersion: '1.17', ids: ids ? `${name}.ids` : null };
  if (spec.description) manifest.description = spec.description;
  return { ann, manifest, ids, vectors };
}

/** Index bytes copied into shared storage, as the service loads a file (storageFromBytes would wrap them unshared). */
export function sharedStorage(ann: Uint8Array): IndexStorage {
  const storage = allocateStorage(ann.byteLength, { shared: true });
  storageBytes(storage).set(ann);
  return storage;
}

/**
 * Writes one file the way a deliverer would (temp file + rename), without fsync: durability does
 * not matter here, and the soak tests expect one swap's files to land within the watcher's debounce.
 */
export function writeTestFile(path: string, data: Uint8Array | string): void {
  writeTestFiles([{ path, data }]);
}

/** Files that belong together, staged first and renamed back to back in the order given (see writeFilesAtomic). */
export function writeTestFiles(files: readonly FileToWrite[]): void {
  writeFilesAtomic(files, { fsync: false });
}

/**
 * Writes an index's files into `dir` as `nnserve build` does: all staged first, then renamed back to
 * back, manifest last. One file at a time, a busy machine could pause between two renames for longer
 * than the soak tests' 50 ms debounce, and the server would load a mix of old and new files.
 */
export function writeIndex(dir: string, name: string, built: BuiltIndex): void {
  const files: FileToWrite[] = [];
  if (built.ids) files.push({ path: join(dir, `${name}.ids`), data: built.ids.join('\n') + '\n' });
  files.push({ path: join(dir, `${name}.ann`), data: built.ann });
  files.push({ path: join(dir, `${name}.json`), data: JSON.stringify(built.manifest) });
  writeTestFiles(files);
}

export function testConfig(dir: string, overrides: Partial<ServiceConfig> = {}): ServiceConfig {
  return {
    ...defaults(),
    indexDir: dir,
    host: '127.0.0.1',
    port: 0,
    workers: 2,
    logLevel: 'silent',
    accessLog: false,
    demo: false,
    docs: true,
    pollIntervalMs: 100,
    debounceMs: 50,
    ...overrides,
  };
}

/** Starts a real server on 127.0.0.1 (any port), waits for the initial load, stops it at teardown. */
export async function serve(t: Teardown, dir: string, overrides: Partial<ServiceConfig> = {}): Promise<RunningServer> {
  const server = await startServer({ config: testConfig(dir, overrides) });
  t.teardown(() => server.shutdown('test over'));
  await server.app.nn.initialLoad;
  return server;
}

export interface Reply<T = any> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
  text: string;
}

export async function http<T = any>(
  base: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply<T>> {
  const init: Parameters<typeof request>[1] = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const res = await request(base + path, init);
  const text = await res.body.text();
  let parsed: unknown = text;
  if (String(res.headers['content-type'] ?? '').startsWith('application/json')) parsed = JSON.parse(text);
  return { status: res.statusCode, headers: res.headers, body: parsed as T, text };
}

/** Polls `check` until it returns a value other than undefined (or gives up after `tries`). */
export async function waitFor<T>(check: () => Promise<T | undefined> | T | undefined, tries = 600, everyMs = 25): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await check();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error('condition not reached');
}

/**
 * Reads one sample from a Prometheus text scrape: `metric('nnserve_queries_total', { index: 'a' })`.
 * Labels not given are not constrained; the first matching sample wins. Undefined when absent.
 */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const pair of (m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) found[pair[1]] = pair[2];
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(m[4]);
  }
  return undefined;
}

export interface ServerProcess {
  child: ChildProcessByStdio<null, Readable, Readable>;
  /** Base URL, e.g. http://127.0.0.1:41234, once the server listens and reports ready. */
  base: string;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with [exit code, signal]. */
  exited: Promise<[number | null, string | null]>;
}

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** `nnserve serve` as a real child process on a free loopback port, not yet listening. */
export function startServerProcess(t: Teardown, dir: string, workers: number, env: Record<string, string>, nodeOptions: string[] = []): Omit<ServerProcess, 'base'> {
  const child = spawn(process.execPath, [...nodeOptions, MAIN, 'serve', '--index-dir', dir, '--port', '0', '--host', '127.0.0.1', '--workers', String(workers)], {
    env: { ...process.env, NNSERVE_DEMO: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  return { child, output: () => out, exited };
}

/** `nnserve serve` as a real child process, once it listens and reports ready (for signal and shutdown tests). */
export async function spawnServer(t: Teardown, dir: string, workers: number, env: Record<string, string>, nodeOptions: string[] = []): Promise<ServerProcess> {
  const { child, output, exited } = startServerProcess(t, dir, workers, env, nodeOptions);
  const base = await Promise.race([
    waitFor(() => /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output())?.[1], 2000),
    exited.then(() => Promise.reject(new Error(`server exited before listening: ${output()}`))),
  ]);
  await waitFor(async () => ((await http(base, 'GET', '/readyz')).status === 200 ? true : undefined));
  return { child, base, output, exited };
}
