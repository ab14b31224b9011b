import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { MetricName } from '../../src/annoy/index.js';
import { REPO_DIR } from './results.js';

/**
 * The C++ reference (`test/reference/build/annoy-ref-native`, Debian's annoylib.h at -O3 -march=native,
 * single thread). Its batch/recall commands time only the query loop, after loading.
 */
export const ANNOY_REF = join(REPO_DIR, 'test/reference/build/annoy-ref-native');

export function ensureAnnoyRef(): void {
  if (existsSync(ANNOY_REF)) return;
  execFileSync('bash', [join(REPO_DIR, 'test/reference/build.sh')], { stdio: 'inherit' });
  if (!existsSync(ANNOY_REF)) throw new Error(`${ANNOY_REF} is missing after test/reference/build.sh`);
}

function run<T>(args: string[]): T {
  const out = execFileSync(ANNOY_REF, args, { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 }).toString().trim();
  return JSON.parse(out.split('\n').pop() ?? '{}') as T;
}

/** Builds with Annoy (one build thread); `seconds` is Annoy's own build() time, without reading the vectors. */
export function annoyBuild(metric: MetricName, f: number, nTrees: number, seed: number, vectorsFile: string, out: string): { seconds: number } {
  return run(['build', metric, String(f), String(nTrees), String(seed), vectorsFile, out]);
}

/** Queries every vector of `queriesFile`; returns Annoy's ids (n per query, -1 padded) and its q/s. */
export function annoyBatch(metric: MetricName, f: number, index: string, queriesFile: string, n: number, searchK: number, scratch: string): { ids: Int32Array; qps: number; seconds: number } {
  const r = run<{ qps: number; seconds: number }>(['batch', metric, String(f), index, queriesFile, String(n), String(searchK), scratch]);
  const bytes = readFileSync(scratch);
  unlinkSync(scratch);
  return { ids: new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)), qps: r.qps, seconds: r.seconds };
}

/** Annoy's own recall@k against a truth file (k int32 ids per query). */
export function annoyRecall(metric: MetricName, f: number, index: string, queriesFile: string, truthFile: string, k: number, searchK: number): { recall: number; qps: number } {
  return run(['recall', metric, String(f), index, queriesFile, truthFile, String(k), String(searchK)]);
}
