import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DIST_DIR } from './results.js';

export const CLI = join(DIST_DIR, 'src/cli/main.js');

/** A free loopback port (bind to 0, read it, release it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface RunningProcess {
  child: ChildProcess;
  pid: number;
  port: number;
  base: string;
  /** Last lines the process wrote to stderr/stdout (for error messages). */
  output(): string;
  stop(): Promise<number | null>;
}

function track(child: ChildProcess, port: number): RunningProcess {
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    pid: child.pid!,
    port,
    base: `http://127.0.0.1:${port}`,
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** GET `path` until it answers 200 (or the process dies / time runs out). */
export async function waitFor200(proc: RunningProcess, path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`process exited with code ${proc.child.exitCode} before ${path} answered 200:\n${proc.output()}`);
    try {
      const res = await fetch(`${proc.base}${path}`);
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`${path} did not answer 200 within ${timeoutMs} ms (${last}):\n${proc.output()}`);
}

export interface ServiceOptions {
  indexDir: string;
  workers: number;
  env?: Record<string, string>;
  /** How long loading may take before giving up. */
  readyTimeoutMs?: number;
}

/**
 * Starts `nnserve serve` on a free loopback port, quiet (warn-level logs, no access log), and waits
 * for /readyz. The service is written by another part of the project: this only relies on the CLI
 * contract (flags, /readyz, the demo index).
 */
export async function startService(options: ServiceOptions): Promise<RunningProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'serve', '--index-dir', options.indexDir, '--port', String(port), '--host', '127.0.0.1', '--workers', String(options.workers)], {
    env: { ...process.env, NNSERVE_LOG_LEVEL: 'warn', NNSERVE_ACCESS_LOG: 'false', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = track(child, port);
  try {
    await waitFor200(proc, '/readyz', options.readyTimeoutMs ?? 120_000);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return proc;
}

/** Starts any node script that takes `--port P` (e.g. the bare Fastify app) and waits for `readyPath`. */
export async function startNodeApp(script: string, readyPath: string, args: string[] = []): Promise<RunningProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [script, '--port', String(port), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = track(child, port);
  try {
    await waitFor200(proc, readyPath, 30_000);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return proc;
}

export interface Rss {
  /** VmRSS: what the process holds in RAM now (MiB). */
  rssMiB: number;
  /** VmHWM: the peak of VmRSS so far (MiB). */
  peakMiB: number;
  anonMiB: number;
  fileMiB: number;
  shmemMiB: number;
  threads: number;
}

/** Memory of a process from /proc/<pid>/status (Linux); worker threads are part of the same process. */
export function rssOf(pid: number): Rss {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(text);
    return m ? Math.round((Number(m[1]) / 1024) * 10) / 10 : NaN;
  };
  const threads = Number(/^Threads:\s+(\d+)/m.exec(text)?.[1] ?? NaN);
  return { rssMiB: kb('VmRSS'), peakMiB: kb('VmHWM'), anonMiB: kb('RssAnon'), fileMiB: kb('RssFile'), shmemMiB: kb('RssShmem'), threads };
}

export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

export interface IndexInfo {
  name: string;
  version: number;
  items: number;
  bytes: number;
  description?: string;
}

/** Waits until GET /v1/indexes/{name} answers and `accept` likes it. */
export async function waitForIndex(base: string, name: string, accept: (info: IndexInfo) => boolean, timeoutMs = 120_000): Promise<IndexInfo> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const info = await getJson<IndexInfo>(`${base}/v1/indexes/${name}`);
      if (accept(info)) return info;
    } catch {
      // not loaded yet
    }
    if (Date.now() > deadline) throw new Error(`index ${name} not ready within ${timeoutMs} ms`);
    await sleep(100);
  }
}
