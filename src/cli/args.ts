import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isMetricName, METRIC_NAMES, type MetricName } from '../annoy/metrics/names.js';
import { MAX_DIMENSIONS, parseManifest, parseManifestJson, type IndexManifest } from '../index-files/manifest.js';

/** A mistake in how the command was called: the command prints its usage and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A problem the user can fix (missing file, bad manifest, invalid index): message only, exit 1. */
export class CliError extends Error {
  override name = 'CliError';
}

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;
export type OptionValues = Record<string, string | boolean | undefined>;

export interface ParsedCommand {
  values: OptionValues;
  positionals: string[];
}

/**
 * node:util parseArgs in strict mode, with its errors turned into UsageErrors. Returns null when
 * --help was asked for. `positionals` is the exact count the command takes.
 */
export function parseCommand(argv: string[], options: OptionSpec, positionals: string[]): ParsedCommand | null {
  const spec: OptionSpec = { ...options, help: { type: 'boolean', short: 'h' } };
  let parsed: { values: OptionValues; positionals: string[] };
  try {
    parsed = parseArgs({ args: attachNegativeValues(argv, spec), options: spec, allowPositionals: true, strict: true }) as {
      values: OptionValues;
      positionals: string[];
    };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (parsed.values.help === true) return null;
  if (parsed.positionals.length < positionals.length) {
    throw new UsageError(`missing ${positionals.slice(parsed.positionals.length).map((p) => `<${p}>`).join(' ')}`);
  }
  if (parsed.positionals.length > positionals.length) {
    throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[positionals.length])}`);
  }
  return parsed;
}

/** `-1`, `-2.5`, `-1e3`: no option is spelled like this, so such a word is always a value. */
const NEGATIVE_NUMBER = /^-(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;

/**
 * parseArgs refuses `--trees -1` as ambiguous (the value looks like an option) and would have
 * users write `--trees=-1`. A negative number right after an option that takes a value is that
 * value, so it is attached first: `--trees=-1`, `-k-1`, `-dk-1`. Words after `--` are left alone.
 */
function attachNegativeValues(argv: string[], options: OptionSpec): string[] {
  const takesValue = (name: string | undefined): boolean => name !== undefined && Object.hasOwn(options, name) && options[name].type === 'string';
  const longName = (short: string): string | undefined => Object.keys(options).find((name) => options[name].short === short);
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    if (next !== undefined && NEGATIVE_NUMBER.test(next)) {
      if (arg.startsWith('--') && !arg.includes('=') && takesValue(arg.slice(2))) {
        out.push(`${arg}=${next}`);
        i++;
        continue;
      }
      // In a short group (-dk) the first option that takes a value takes the rest of the group,
      // or the next word when it comes last.
      const letters = arg.startsWith('-') && !arg.startsWith('--') ? [...arg.slice(1)] : [];
      if (letters.length > 0 && letters.findIndex((c) => takesValue(longName(c))) === letters.length - 1) {
        out.push(arg + next);
        i++;
        continue;
      }
    }
    out.push(arg);
  }
  return out;
}

/** An integer option; `undefined` when absent. */
export function intOption(values: OptionValues, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^[+-]?\d+$/.test(raw.trim())) throw new UsageError(`--${name} must be an integer (got ${JSON.stringify(raw)})`);
  const n = Number(raw);
  if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max} (got ${n})`);
  return n;
}

export function metricOption(values: OptionValues): MetricName | undefined {
  const raw = values.metric;
  if (raw === undefined) return undefined;
  if (!isMetricName(raw)) throw new UsageError(`--metric must be one of ${METRIC_NAMES.join(', ')} (got ${JSON.stringify(raw)})`);
  return raw;
}

/** Where the manifest of an index file lives: the same path with `.ann` replaced by `.json`. */
export function manifestPathFor(annPath: string): string {
  return annPath.endsWith('.ann') ? annPath.slice(0, -4) + '.json' : annPath + '.json';
}

/** The index file plus what is needed to open it: explicit flags win over the manifest beside it. */
export interface IndexTarget {
  file: string;
  metric: MetricName;
  dimensions: number;
  /** The manifest beside the file when it was read and valid, else null. */
  manifest: IndexManifest | null;
  manifestPath: string;
  /** The ids file named by the manifest, or null. */
  idsPath: string | null;
}

export const INDEX_OPTIONS: OptionSpec = {
  metric: { type: 'string', short: 'm' },
  dimensions: { type: 'string', short: 'f' },
};

/**
 * Resolves metric and dimensions for an index file. A manifest that cannot be read only matters
 * when a flag is missing; with both flags given it is reported as a warning and ignored.
 */
export function resolveIndexTarget(file: string, values: OptionValues, warn: (message: string) => void): IndexTarget {
  const metricFlag = metricOption(values);
  const dimensionsFlag = intOption(values, 'dimensions', 1, MAX_DIMENSIONS);
  checkIndexFile(file);
  const manifestPath = manifestPathFor(file);
  let manifest: IndexManifest | null = null;
  if (existsSync(manifestPath)) {
    try {
      manifest = parseManifest(parseManifestJson(readFileSync(manifestPath, 'utf8')), manifestPath);
    } catch (err) {
      const message = err instanceof SyntaxError ? `${manifestPath}: invalid JSON (${err.message})` : (err as Error).message;
      if (metricFlag === undefined || dimensionsFlag === undefined) throw new CliError(message);
      warn(`ignoring the manifest: ${message}`);
    }
  }
  const metric = metricFlag ?? manifest?.metric;
  const dimensions = dimensionsFlag ?? manifest?.dimensions;
  if (metric === undefined || dimensions === undefined) {
    const missing = [metric === undefined ? '--metric' : null, dimensions === undefined ? '--dimensions' : null].filter(Boolean).join(' and ');
    throw new UsageError(`${missing} needed: Annoy files do not record them, and there is no manifest at ${manifestPath}`);
  }
  const idsPath = manifest?.ids ? join(dirname(manifestPath), manifest.ids) : null;
  return { file, metric, dimensions, manifest, manifestPath, idsPath };
}

/**
 * A missing file is the first thing to say: asking for --metric and --dimensions, or for the
 * manifest beside it, would send the user looking for the wrong problem.
 */
function checkIndexFile(file: string): void {
  let stats;
  try {
    stats = statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new CliError(`${file} does not exist`);
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
  if (!stats.isFile()) throw new CliError(`${file} is not a file`);
}

/**
 * Why the directory given as `flag` could not be created (serve's index directory, fetch's
 * target), in one line instead of mkdir's "EEXIST: file already exists" or a stack trace: the
 * file it or a directory above it is gets named. null for errors of anything but mkdir.
 */
export function mkdirProblem(err: unknown, flag: string, dir: string): string | null {
  const { code, syscall } = err as NodeJS.ErrnoException;
  if (syscall !== 'mkdir') return null;
  if (code === 'EEXIST' || code === 'ENOTDIR') {
    for (let path = resolve(dir); dirname(path) !== path; path = dirname(path)) {
      if (isNonDirectory(path)) return `cannot use ${flag} ${dir}: ${path} is not a directory`;
    }
  }
  return `cannot create ${flag} ${dir}: ${(err as Error).message}`;
}

function isNonDirectory(path: string): boolean {
  try {
    return !statSync(path).isDirectory();
  } catch {
    return false; // missing, or below a file (ENOTDIR): the walk goes on up
  }
}

/**
 * Prints the error the way every command does and returns the exit code: usage errors show the
 * command's usage and give 2, anything else gives 1.
 */
export function reportError(command: string, usage: string, err: unknown): number {
  if (err instanceof UsageError) {
    process.stderr.write(`nnserve ${command}: ${err.message}\n\n${usage}`);
    return 2;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`nnserve ${command}: ${message}\n`);
  return 1;
}
