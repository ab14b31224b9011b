import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { AnnoyIndex, isSearchK, queryVectorProblem, SEARCH_K_RULE } from '../../annoy/index.js';
import { annFileProblem, idsChecksumProblem, idsFileProblem, parseIdsFile } from '../../index-files/manifest.js';
import { readIndexFile } from '../../index-files/read-storage.js';
import type { IndexStorage } from '../../annoy/storage.js';
import { withoutByteOrderMark } from '../../input/byte-order-mark.js';
import { CliError, INDEX_OPTIONS, intOption, parseCommand, reportError, resolveIndexTarget, UsageError, type IndexTarget, type OptionValues } from '../args.js';

export const usage = `Usage: nnserve query <file.ann> [options] < queries.jsonl

Reads one JSON query per line from stdin and writes one JSON result per line to stdout:
  {"item": 3}                  neighbours of an item (with an ids file: its external id, e.g. {"item": "doc-7"})
  {"vector": [0.1, 0.2, ...]}  neighbours of a vector
A query may also set "n", "search_k" and "include_distances" for itself.
Each result is {"ids": [...]} plus "distances" when asked for; with an ids file, ids are the
external ids. A line that fails gets {"error": "..."} and the rest go on; blank lines are skipped.
At the end one JSON line goes to stderr: {"queries", "errors", "seconds", "qps"}, where queries
counts answered lines and seconds is the time spent parsing, searching and writing results
(not loading the index or waiting for input). Exits 1 if any line failed.

Options:
  -m, --metric <m>        angular | euclidean | manhattan | dot | hamming (default: from the manifest)
  -f, --dimensions <f>    vector length; hamming: bits (default: from the manifest)
  -n, --n <n>             neighbours per query (default 10)
  -k, --search-k <k>      candidates to inspect: -1 (default) = n × trees, or a positive integer
  -d, --include-distances add "distances" to each result
  -h, --help              show this help
`;

const OPTIONS = {
  ...INDEX_OPTIONS,
  n: { type: 'string', short: 'n' },
  'search-k': { type: 'string', short: 'k' },
  'include-distances': { type: 'boolean', short: 'd' },
} as const;

interface Defaults {
  n: number;
  searchK: number;
  includeDistances: boolean;
}

export async function run(argv: string[]): Promise<number> {
  try {
    const parsed = parseCommand(argv, { ...OPTIONS }, ['file.ann']);
    if (parsed === null) {
      process.stdout.write(usage);
      return 0;
    }
    const defaults: Defaults = {
      n: intOption(parsed.values, 'n', 1, 1_000_000) ?? 10,
      searchK: searchKOption(parsed.values),
      includeDistances: parsed.values['include-distances'] === true,
    };
    const target = resolveIndexTarget(parsed.positionals[0], parsed.values, (m) => process.stderr.write(`nnserve query: ${m}\n`));
    let index: AnnoyIndex;
    let storage: IndexStorage;
    try {
      storage = readIndexFile(target.file);
      index = AnnoyIndex.open(storage, target.metric, target.dimensions);
    } catch (err) {
      throw new CliError(`cannot open ${target.file} as ${target.metric} with ${target.dimensions} dimensions: ${(err as Error).message}`);
    }
    let names: string[] | null = null;
    if (target.idsPath !== null) {
      try {
        names = parseIdsFile(readFileSync(target.idsPath, 'utf8'));
      } catch (err) {
        throw new CliError(`cannot read the ids file: ${(err as Error).message}`);
      }
      // As the server refuses it: a short file would answer null ids, a repeated id the wrong
      // item, and one of another version (as many lines) every item under another's id.
      const file = `ids file ${target.idsPath}`;
      const problem =
        idsFileProblem(names, index.getNItems(), file) ?? (target.manifest && idsChecksumProblem(names, target.manifest, file)) ?? otherAnnProblem(storage, target);
      if (problem) throw new CliError(problem);
    }
    return await answerQueries(new QueryAnswerer(index, names, defaults));
  } catch (err) {
    return reportError('query', usage, err);
  }
}

/**
 * The ids file belongs to the manifest's version of the index: under an .ann of another version
 * with as many items (copied without its manifest), every answer would name the wrong ids. The
 * service refuses such a file by the same bytes and sha256.
 */
function otherAnnProblem(storage: IndexStorage, target: IndexTarget): string | null {
  const m = target.manifest;
  if (m === null) return null;
  if (annFileProblem(storage, m, target.file) === null) return null;
  return `${target.file} is not the file ${target.manifestPath} describes (its bytes or sha256 differ), so the ids file ${target.idsPath} is another version's`;
}

function searchKOption(values: OptionValues): number {
  const k = intOption(values, 'search-k', Number.MIN_SAFE_INTEGER) ?? -1;
  if (!isSearchK(k)) throw new UsageError(`--search-k ${SEARCH_K_RULE} (got ${k})`);
  return k;
}

/** Turns one input line into one output line; never throws. */
class QueryAnswerer {
  answered = 0;
  failed = 0;
  private readonly itemOf: Map<string, number> | null;

  constructor(
    private readonly index: AnnoyIndex,
    private readonly names: string[] | null,
    private readonly defaults: Defaults,
  ) {
    this.itemOf = names === null ? null : new Map(names.map((name, item) => [name, item]));
  }

  answer(line: string): string {
    try {
      const out = this.search(line);
      this.answered++;
      return out;
    } catch (err) {
      this.failed++;
      return JSON.stringify({ error: err instanceof Error ? err.message : String(err) });
    }
  }

  private search(line: string): string {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new Error(`invalid JSON: ${(err as Error).message}`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('expected {"item": ...} or {"vector": [...]}');
    const q = value as Record<string, unknown>;
    const n = q.n === undefined ? this.defaults.n : q.n;
    const searchK = q.search_k === undefined ? this.defaults.searchK : q.search_k;
    const withDistances = q.include_distances === undefined ? this.defaults.includeDistances : q.include_distances;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw new Error('"n" must be a positive integer');
    if (!isSearchK(searchK)) throw new Error(`"search_k" ${SEARCH_K_RULE}`);
    if (typeof withDistances !== 'boolean') throw new Error('"include_distances" must be true or false');

    let result;
    if (q.item !== undefined && q.vector !== undefined) throw new Error('give "item" or "vector", not both');
    if (q.item !== undefined) {
      result = this.index.getNnsByItem(this.itemNumber(q.item), n, searchK, withDistances);
    } else if (q.vector !== undefined) {
      if (!Array.isArray(q.vector)) throw new Error('"vector" must be an array of numbers');
      for (const v of q.vector) if (typeof v !== 'number') throw new Error('"vector" must hold only numbers');
      // What the HTTP API refuses too: values a hamming index cannot hold, lengths that overflow distances.
      const problem = q.vector.length === this.index.dimensions ? queryVectorProblem(this.index.metric, q.vector as number[]) : null;
      if (problem) throw new Error(problem);
      result = this.index.getNnsByVector(q.vector as number[], n, searchK, withDistances);
    } else {
      throw new Error('expected {"item": ...} or {"vector": [...]}');
    }
    const names = this.names;
    const ids = names === null ? result.ids : result.ids.map((i) => names[i]);
    return JSON.stringify(withDistances ? { ids, distances: result.distances } : { ids });
  }

  /** With an ids file a string names an item; a number is always the item number itself. */
  private itemNumber(item: unknown): number {
    if (typeof item === 'number') return item;
    if (typeof item === 'string') {
      if (this.itemOf === null) throw new Error('"item" must be an integer: this index has no ids file');
      const found = this.itemOf.get(item);
      if (found === undefined) throw new Error(`unknown id ${JSON.stringify(item)}`);
      return found;
    }
    throw new Error('"item" must be an integer or an id string');
  }
}

/**
 * Reads stdin a chunk at a time and answers every complete line of a chunk synchronously, so
 * the only awaits are per chunk (and when stdout pushes back).
 */
async function answerQueries(answerer: QueryAnswerer): Promise<number> {
  const stdout = process.stdout;
  let closed = false;
  let writeError = null as Error | null;
  const onError = (err: NodeJS.ErrnoException): void => {
    // The reader went away (e.g. `| head`): stop answering, still report the stats. Any other
    // failure (a full disk) lost answers the user asked for: said, and exit 1.
    closed = true;
    if (err.code !== 'EPIPE') writeError ??= err;
  };
  stdout.on('error', onError);
  process.stdin.setEncoding('utf8');
  let busyNs = 0n;
  let pending = '';

  const answerLines = (text: string, final: boolean): string => {
    const lines = (pending + text).split('\n');
    pending = final ? '' : lines.pop()!;
    let out = '';
    for (let line of lines) {
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line.trim().length === 0) continue;
      out += answerer.answer(line) + '\n';
    }
    return out;
  };

  let first = true;
  for await (const chunk of process.stdin as AsyncIterable<string>) {
    const t0 = process.hrtime.bigint();
    // A byte-order mark (Windows editors save "UTF-8 with BOM") would make the first query invalid JSON.
    const out = answerLines(first ? withoutByteOrderMark(chunk) : chunk, false);
    first = false;
    const ok = out.length === 0 || stdout.write(out);
    busyNs += process.hrtime.bigint() - t0;
    if (closed) break;
    if (!ok) {
      // events.once rejects when 'error' fires first; onError has already recorded that. The waiter
      // that loses is aborted: left behind, each wait would add a listener to stdout for good.
      const loser = new AbortController();
      await Promise.race([once(stdout, 'drain', { signal: loser.signal }), once(stdout, 'close', { signal: loser.signal })]).catch(() => {});
      loser.abort();
    }
    if (closed) break;
  }
  if (!closed && pending.length > 0) {
    const t0 = process.hrtime.bigint();
    const out = answerLines('', true);
    if (out.length > 0) stdout.write(out);
    busyNs += process.hrtime.bigint() - t0;
  }
  // A write fails after it returns: wait for the last one, so its error is known before the exit code.
  if (!closed) {
    await new Promise<void>((resolve) => {
      stdout.write('', (err) => {
        if (err) onError(err);
        resolve();
      });
    });
  }
  if (writeError !== null) process.stderr.write(`nnserve query: cannot write the results: ${writeError.message}\n`);

  const seconds = Number(busyNs) / 1e9;
  const queries = answerer.answered;
  const stats = {
    queries,
    errors: answerer.failed,
    seconds: Number(seconds.toFixed(6)),
    qps: seconds > 0 ? Number((queries / seconds).toFixed(1)) : 0,
  };
  process.stderr.write(JSON.stringify(stats) + '\n');
  return answerer.failed > 0 || writeError !== null ? 1 : 0;
}
