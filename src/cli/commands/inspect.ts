import { readFileSync } from 'node:fs';
import { AnnoyIndex } from '../../annoy/index.js';
import type { IndexStorage } from '../../annoy/storage.js';
import { idsChecksumProblem, idsFileProblem, parseIdsFile } from '../../index-files/manifest.js';
import { readIndexFile } from '../../index-files/read-storage.js';
import { storageSha256 } from '../../index-files/storage-sha256.js';
import { CliError, INDEX_OPTIONS, parseCommand, reportError, resolveIndexTarget, type IndexTarget } from '../args.js';

export const usage = `Usage: nnserve inspect <file.ann> [--metric <m> --dimensions <f>]

Validates an Annoy index file and prints a JSON summary (node size, items, trees, holes, bytes,
validation result, kernels, and how the file compares with its manifest). Exits 1 when the file
is missing, is not a valid index for the metric and dimensions, holds an item vector that makes
distances NaN or infinite (the service refuses such files), or disagrees with its manifest.

Metric and dimensions come from the manifest <file>.json beside the file; flags override it.

Options:
  -m, --metric <m>       angular | euclidean | manhattan | dot | hamming
  -f, --dimensions <f>   vector length (hamming: number of bits)
  -h, --help             show this help
`;

export async function run(argv: string[]): Promise<number> {
  try {
    const parsed = parseCommand(argv, INDEX_OPTIONS, ['file.ann']);
    if (parsed === null) {
      process.stdout.write(usage);
      return 0;
    }
    const target = resolveIndexTarget(parsed.positionals[0], parsed.values, (m) => process.stderr.write(`nnserve inspect: ${m}\n`));
    const report = inspectFile(target);
    process.stdout.write(JSON.stringify(report.summary, null, 2) + '\n');
    if (report.problems.length > 0) {
      process.stderr.write(`nnserve inspect: ${target.file} is not valid: ${report.problems.join('; ')}\n`);
      return 1;
    }
    return 0;
  } catch (err) {
    return reportError('inspect', usage, err);
  }
}

interface InspectReport {
  summary: Record<string, unknown>;
  problems: string[];
}

function inspectFile(target: IndexTarget): InspectReport {
  let storage: IndexStorage;
  try {
    // resolveIndexTarget has checked that the file exists and is a file.
    storage = readIndexFile(target.file);
  } catch (err) {
    throw new CliError(`cannot read ${target.file}: ${(err as Error).message}`);
  }
  const engine = AnnoyIndex.inspect(storage, target.metric, target.dimensions);
  const problems: string[] = [];
  if (!engine.valid) problems.push(`${engine.error ?? 'invalid structure'} (read as ${target.metric}, ${target.dimensions} dimensions)`);
  if (engine.unusableItem) problems.push(`${engine.unusableItem} (nnserve serve refuses such a file)`);

  const manifestCheck = target.manifest === null ? null : compareWithManifest(target, storage, engine.items, engine.trees, engine.valid);
  if (manifestCheck !== null) problems.push(...manifestCheck.problems);

  const summary: Record<string, unknown> = {
    file: target.file,
    ...engine,
    manifest: manifestCheck === null ? null : { path: target.manifestPath, ok: manifestCheck.problems.length === 0, problems: manifestCheck.problems },
  };
  return { summary, problems };
}

function compareWithManifest(target: IndexTarget, storage: IndexStorage, items: number, trees: number, valid: boolean): { problems: string[] } {
  const m = target.manifest!;
  const problems: string[] = [];
  if (m.metric !== target.metric || m.dimensions !== target.dimensions) {
    problems.push(`manifest says ${m.metric} with ${m.dimensions} dimensions, inspected as ${target.metric} with ${target.dimensions}`);
  }
  if (m.bytes !== undefined && m.bytes !== storage.byteLength) problems.push(`manifest says ${m.bytes} bytes, the file has ${storage.byteLength}`);
  if (valid && m.items !== undefined && m.items !== items) problems.push(`manifest says ${m.items} items, the file has ${items}`);
  if (valid && m.trees !== undefined && m.trees !== trees) problems.push(`manifest says ${m.trees} trees, the file has ${trees}`);
  if (m.sha256 !== undefined && storageSha256(storage) !== m.sha256) problems.push('sha256 of the file differs from the manifest');
  if (target.idsPath !== null) {
    try {
      const ids = parseIdsFile(readFileSync(target.idsPath, 'utf8'));
      const stale = idsChecksumProblem(ids, m, `ids file ${target.idsPath}`);
      if (stale) problems.push(stale);
      const problem = valid ? idsFileProblem(ids, items, `ids file ${target.idsPath}`) : null;
      if (problem) problems.push(problem);
    } catch (err) {
      problems.push(`cannot read ids file ${target.idsPath}: ${(err as Error).message}`);
    }
  }
  return { problems };
}
