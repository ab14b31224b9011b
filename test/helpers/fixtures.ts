import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MetricName } from '../../src/annoy/index.js';

/**
 * Fixtures and the reference program live in the source tree (test/fixtures, test/reference),
 * not in dist: find the repository root from this file, compiled or not.
 */
function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'test', 'fixtures')) && existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the repository root (test/fixtures) above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

export const repoRoot = findRepoRoot();
export const fixturesDir = join(repoRoot, 'test', 'fixtures');
export const annoyRefPath = join(repoRoot, 'test', 'reference', 'build', 'annoy-ref');

export interface FixtureMeta {
  description: string;
  metric: MetricName;
  dimensions: number;
  trees: number;
  seed: number;
  itemsAdded: number;
  nItems: number;
  nTrees: number;
  bytes: number;
}

/** What Annoy answered (distances as Annoy returns them: sqrt for angular/euclidean, +dot for dot). */
export interface Answer {
  ids: number[];
  distances: number[];
}

export type FixtureQuery =
  | { kind: 'item'; item: number; n: number; searchK: number; expected: Answer }
  | { kind: 'vector'; vector: number[]; n: number; searchK: number; expected: Answer };

export interface FixtureCases {
  holes: number[];
  distances: { i: number; j: number; distance: number }[];
  items: { item: number; vector: number[] }[];
  queries: FixtureQuery[];
}

export interface Fixture {
  name: string;
  indexPath: string;
  meta: FixtureMeta;
  cases: FixtureCases;
}

export function loadFixtures(): Fixture[] {
  return readdirSync(fixturesDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(fixturesDir, entry.name, 'meta.json')))
    .map((entry) => {
      const dir = join(fixturesDir, entry.name);
      return {
        name: entry.name,
        indexPath: join(dir, 'index.ann'),
        meta: JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as FixtureMeta,
        cases: JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as FixtureCases,
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

export function describeQuery(q: FixtureQuery): string {
  const what = q.kind === 'item' ? `item ${q.item}` : `vector [${q.vector.slice(0, 3).join(', ')}${q.vector.length > 3 ? ', …' : ''}]`;
  return `${what} n=${q.n} search_k=${q.searchK}`;
}

/**
 * Whether nnserve's distance matches Annoy's. Annoy computes in float32 and nnserve may sum in
 * another order or in doubles, so the comparison allows float rounding, scaled to what each
 * metric's formula can lose:
 * - by default 1e-4 relative, 1e-6 absolute near 0;
 * - angular: Annoy returns sqrt(2 - 2cos) where 2 - 2cos carries ~1e-7 absolute error that the
 *   square root magnifies near 0 (a near-duplicate can come back as 3e-4 instead of 0), so the
 *   squared values may differ by 1e-5 (float32 error of a 2-valued quantity summed over f terms);
 * - dot: a dot product can cancel to near 0 while its terms are large, so its error is relative to
 *   `scale` (the largest |distance| in the same answer), not to the value itself.
 */
export function distanceMatches(metric: MetricName, expected: number, got: number, scale = Math.abs(expected)): boolean {
  if (!Number.isFinite(got)) return false;
  const diff = Math.abs(got - expected);
  if (diff <= 1e-6 || diff <= 1e-4 * Math.abs(expected)) return true;
  if (metric === 'angular') return Math.abs(got * got - expected * expected) <= 1e-5;
  if (metric === 'dot') return diff <= 1e-5 * Math.max(1, scale);
  return false;
}

/** Two of Annoy's distances are a tie when float32 rounding alone could have ordered them either way. */
export function isTie(metric: MetricName, a: number, b: number, scale: number): boolean {
  const diff = Math.abs(a - b);
  if (diff <= 1e-6 * Math.max(1, Math.abs(a))) return true;
  if (metric === 'angular') return Math.abs(a * a - b * b) <= 1e-6;
  if (metric === 'dot') return diff <= 1e-6 * Math.max(1, scale);
  return false;
}

/**
 * Compares an nnserve answer with Annoy's; undefined when they agree. Ids must be equal in order,
 * except that results Annoy ranks as tied (consecutive positions whose distances are a tie) may
 * come in any order among themselves: within each such run the two id sets must be equal, so a
 * different neighbour never passes, only a swap of tied ones. Distances are compared position by
 * position (within a tie run they are equal up to rounding anyway).
 */
export function compareAnswer(metric: MetricName, expected: Answer, got: { ids: number[]; distances?: number[] }): string | undefined {
  const show = (): string => `expected ids ${JSON.stringify(expected.ids)} distances ${JSON.stringify(expected.distances)}; got ids ${JSON.stringify(got.ids)} distances ${JSON.stringify(got.distances)}`;
  if (got.ids.length !== expected.ids.length) return `${got.ids.length} results instead of ${expected.ids.length}: ${show()}`;
  const scale = expected.distances.reduce((m, d) => Math.max(m, Math.abs(d)), 0);
  for (let start = 0; start < expected.ids.length; ) {
    let end = start + 1;
    while (end < expected.ids.length && isTie(metric, expected.distances[start], expected.distances[end], scale)) end++;
    const want = expected.ids.slice(start, end).sort((a, b) => a - b);
    const have = got.ids.slice(start, end).sort((a, b) => a - b);
    if (want.some((id, k) => id !== have[k])) {
      const where = end - start === 1 ? `position ${start}` : `tied positions ${start}..${end - 1}`;
      return `ids differ at ${where}: ${show()}`;
    }
    start = end;
  }
  if (got.distances) {
    if (got.distances.length !== expected.distances.length) return `${got.distances.length} distances for ${expected.ids.length} ids: ${show()}`;
    for (let k = 0; k < expected.distances.length; k++) {
      if (!distanceMatches(metric, expected.distances[k], got.distances[k], scale)) {
        return `distance at position ${k} is ${got.distances[k]}, Annoy says ${expected.distances[k]}: ${show()}`;
      }
    }
  }
  return undefined;
}
