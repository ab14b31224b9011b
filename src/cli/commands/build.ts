import { createHash } from 'node:crypto';
import { accessSync, constants, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { AnnoyIndex, queryVectorProblem } from '../../annoy/index.js';
import type { MetricName } from '../../annoy/metrics/names.js';
import { storageFromBytes } from '../../annoy/storage.js';
import { buildIndex } from '../../build/build-index.js';
import { formatBytes } from '../../build/format-bytes.js';
import { idsSha256, isIdsFileName, MAX_DIMENSIONS, type IndexManifest } from '../../index-files/manifest.js';
import { writeFilesAtomic, type FileToWrite } from '../../index-files/write-atomic.js';
import { InputError, readVectors } from '../../input/read-vectors.js';
import { defaultThreads } from '../../platform/cgroup-limits.js';
import { INDEX_NAME, INDEX_NAME_PATTERN } from '../../index-files/index-name.js';
import { CliError, intOption, manifestPathFor, metricOption, parseCommand, reportError, UsageError } from '../args.js';
import { createProgress } from '../progress.js';

export const usage = `Usage: nnserve build <input> <output.ann> --metric <metric> [options]

Builds an Annoy 1.17 index and writes <output.ann>, the manifest <output.json> and, when the
input has string ids, <output.ids> (line i = id of item i).

Input formats (by extension):
  .fvecs   int32 dimension + float32 values per row; row i = item i
  .npy     2-D float32/float64 array in C order; row i = item i
  .jsonl   {"id": <int|string>, "vector": [...]} per line ("id" on every line or none)
  .csv     numbers per row; the first line is a header when its first cell is "id" or its
           later cells are text (not numbers); the first column holds ids when the header
           names it "id", leaves it empty or puts it before columns 0, 1, 2, ... (pandas'
           index), or when the first data row starts with a non-number (quote integers to
           make them names)
Integer ids are Annoy item ids (gaps become holes); string ids (or a mix) are numbered in input order.

Options:
  -m, --metric <m>    angular | euclidean | manhattan | dot | hamming (hamming: 0/1 values, one per bit)
  --trees <T>         number of trees (default 10; -1 = Annoy's automatic count)
  --seed <S>          random seed, 0..4294967295: the same seed, input and --threads give
                      the same file
  --threads <N>       build threads (default: available CPUs, or the container's CPU limit);
                      thread k draws from seed + k, as in Annoy, so give --threads too when the
                      file must be reproducible
  -h, --help          show this help
`;

const MAX_SEED = 2 ** 32 - 1;

const OPTIONS = {
  metric: { type: 'string', short: 'm' },
  trees: { type: 'string' },
  seed: { type: 'string' },
  threads: { type: 'string' },
} as const;

export async function run(argv: string[]): Promise<number> {
  try {
    const parsed = parseCommand(argv, { ...OPTIONS }, ['input', 'output.ann']);
    if (parsed === null) {
      process.stdout.write(usage);
      return 0;
    }
    const [input, output] = parsed.positionals;
    const metric = metricOption(parsed.values);
    if (metric === undefined) throw new UsageError('--metric is required');
    const trees = intOption(parsed.values, 'trees', -1, 100_000) ?? 10;
    if (trees === 0) throw new UsageError('--trees must be at least 1 (or -1 for automatic)');
    // The generator takes 32 bits: past them, seed S + 2^32 silently built the file of seed S.
    const seed = intOption(parsed.values, 'seed', 0, MAX_SEED);
    const threads = intOption(parsed.values, 'threads', 1, 1024) ?? defaultThreads();
    if (!output.endsWith('.ann')) throw new UsageError(`the output file must end in .ann (got ${JSON.stringify(output)})`);
    checkOutputPath(output);
    await buildCommand({ input, output, metric, trees, seed, threads });
    return 0;
  } catch (err) {
    return reportError('build', usage, err);
  }
}

interface BuildRequest {
  input: string;
  output: string;
  metric: MetricName;
  trees: number;
  seed: number | undefined;
  threads: number;
}

async function buildCommand(req: BuildRequest): Promise<void> {
  const started = performance.now();
  const set = await readVectors(req.input);
  // The manifest could not name more, so inspect, query and serve would refuse what was built.
  if (set.dimensions > MAX_DIMENSIONS) throw new InputError(`${req.input}: ${set.dimensions} dimensions, more than the ${MAX_DIMENSIONS} an index may have`);
  if (req.metric === 'hamming') checkBits(set.vectors, set.dimensions, req.input);
  else checkLengths(set.vectors, set.dimensions, req.metric, req.input);
  // Integer ids are Annoy item ids; names (or no ids) number the items in input order.
  const names = set.ids !== null && typeof set.ids[0] === 'string' ? (set.ids as string[]) : null;
  const itemIds = set.ids !== null && typeof set.ids[0] === 'number' ? (set.ids as number[]) : undefined;
  const base = req.output.slice(0, -4);
  const idsPath = names === null ? null : `${base}.ids`;
  if (idsPath !== null && !isIdsFileName(basename(idsPath))) {
    throw new CliError(`the ids file would be ${basename(idsPath)}, and a manifest may not name a file starting with "."; choose an output name that does not start with "."`);
  }

  const progress = createProgress(`building ${basename(req.output)}`, 'trees');
  let bytes: Uint8Array;
  try {
    bytes = await buildIndex({
      metric: req.metric,
      dimensions: set.dimensions,
      vectors: set.vectors,
      ids: itemIds,
      nTrees: req.trees,
      seed: req.seed,
      threads: req.threads,
      onProgress: (done) => progress.update(done, req.trees),
    });
  } finally {
    progress.finish();
  }

  // Opening the result validates it and gives the counts the manifest records.
  const index = AnnoyIndex.open(storageFromBytes(bytes), req.metric, set.dimensions);
  const manifest: IndexManifest = {
    metric: req.metric,
    dimensions: set.dimensions,
    items: index.getNItems(),
    trees: index.getNTrees(),
    annoyVersion: '1.17',
    ids: idsPath === null ? null : basename(idsPath),
    bytes: bytes.byteLength,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    ...(names === null ? {} : { idsSha256: idsSha256(names) }),
    createdAt: new Date().toISOString(),
    source: basename(req.input),
  };

  // Data first, manifest last (as `nnserve fetch` installs): the manifest is the commit point, so
  // whoever reads it finds the data it describes already in place.
  const files: FileToWrite[] = [];
  if (idsPath !== null && names !== null) files.push({ path: idsPath, data: names.join('\n') + '\n' });
  files.push({ path: req.output, data: bytes });
  files.push({ path: manifestPathFor(req.output), data: JSON.stringify(manifest, null, 2) + '\n' });
  try {
    writeFilesAtomic(files);
  } catch (err) {
    // The error names the hidden temporary file; name the file the user asked for.
    throw new CliError(`cannot write ${req.output}: ${(err as Error).message.replace(/, \w+ '.*$/, '')}`);
  }

  const seconds = (performance.now() - started) / 1000;
  const rows = set.vectors.length / set.dimensions;
  const holes = manifest.items! - rows;
  process.stderr.write(
    `nnserve build: wrote ${req.output} (${count(rows, 'item')}${holes > 0 ? ` + ${count(holes, 'hole')}` : ''}, ${count(set.dimensions, 'dimension')}, ` +
      `${req.metric}, ${count(manifest.trees!, 'tree')}, ${formatBytes(bytes.byteLength)}) in ${seconds.toFixed(2)} s\n`,
  );
  // A valid file all the same (Annoy and `nnserve query` read it), but one the service would skip.
  const name = basename(base);
  if (!INDEX_NAME.test(name)) {
    process.stderr.write(`nnserve build: note: "nnserve serve" ignores ${basename(req.output)}: index names must match ${INDEX_NAME_PATTERN} (lower case); rename the files to serve them\n`);
  }
}

/**
 * The files are written beside <output.ann> only once the index is built: a mistyped directory is
 * checked first, so nobody waits for a long build to fail at the end (or reads about a temp file).
 */
function checkOutputPath(output: string): void {
  const dir = dirname(output);
  let stats;
  try {
    stats = statSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new CliError(`output directory ${dir} does not exist`);
    throw new CliError(`cannot use the output directory ${dir}: ${(err as Error).message}`);
  }
  if (!stats.isDirectory()) throw new CliError(`output directory ${dir} is not a directory`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new CliError(`output directory ${dir} is not writable`);
  }
  if (statSync(output, { throwIfNoEntry: false })?.isDirectory()) throw new CliError(`${output} is a directory`);
  // Found only after the .ann was installed, these named the .ann ("cannot write x.ann: EISDIR").
  for (const [path, what] of [[manifestPathFor(output), 'manifest'], [`${output.slice(0, -4)}.ids`, 'ids file']]) {
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) throw new CliError(`${path} is a directory, where the ${what} would go`);
  }
}

/**
 * A vector whose squared length is past the float32 range can be stored, but every distance to it
 * overflows (to Infinity, which JSON cannot carry): refused here as the service refuses such queries.
 */
function checkLengths(vectors: Float32Array, dimensions: number, metric: MetricName, source: string): void {
  for (let row = 0; row * dimensions < vectors.length; row++) {
    const problem = queryVectorProblem(metric, vectors.subarray(row * dimensions, (row + 1) * dimensions), `row ${row + 1}`);
    if (problem) throw new InputError(`${source}: ${problem}`);
  }
}

/** Hamming vectors are one 0/1 value per bit; anything else would be silently thresholded at 0.5. */
function checkBits(vectors: Float32Array, dimensions: number, source: string): void {
  for (let k = 0; k < vectors.length; k++) {
    const v = vectors[k];
    if (v !== 0 && v !== 1) {
      throw new InputError(`${source}: row ${Math.floor(k / dimensions) + 1}: value ${(k % dimensions) + 1} is ${v}; hamming vectors hold 0 or 1 per bit`);
    }
  }
}

/** "1 item", "2 items": the summary line is read by people. */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
