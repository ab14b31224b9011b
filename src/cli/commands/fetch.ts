import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FetchError } from '../../fetch/errors.js';
import { createDispatcher } from '../../fetch/http.js';
import { resolveSource } from '../../fetch/source.js';
import { emptyMemory, syncIndex, type SyncResult } from '../../fetch/sync-index.js';
import { CliError, intOption, mkdirProblem, parseCommand, reportError, UsageError } from '../args.js';

export const usage = `Usage: nnserve fetch <url> --dir <dir> [--name <name>] [--interval <seconds>] [--timeout-ms <ms>]

Downloads a published index into <dir> so a running server picks it up (hot swap).
<url> is the manifest (https://host/path/products.json) or its base URL with --name products.
Downloads the manifest, then <name>.ann and the ids file it names, each to a temporary file in
<dir>; checks "bytes" and "sha256" when the manifest gives them; then renames the ids file, the
.ann and, last, the manifest into place. Nothing is replaced when any check fails. When the
published manifest is unchanged (ETag, or same manifest and sha256 as the local copy) nothing is
downloaded or rewritten.

Options:
  --dir <dir>            target directory (the server's index directory); created if missing
  --name <name>          local index name (default: the manifest's file name without .json)
  --interval <seconds>   keep running and check again every <seconds>; errors are logged and
                         retried; SIGTERM or SIGINT exits 0 (sidecar mode)
  --timeout-ms <ms>      connect / response / idle-body timeout per request (default 30000)
  -h, --help             show this help

Exit status: 0 when the index is current, 1 when a pass failed (one-shot mode), 2 on usage errors.
`;

const OPTIONS = {
  dir: { type: 'string' },
  name: { type: 'string' },
  interval: { type: 'string' },
  'timeout-ms': { type: 'string' },
} as const;

export interface FetchRunOptions {
  /** Stops the loop (and any download in flight); tests use it instead of signals. */
  signal?: AbortSignal;
  out?: (line: string) => void;
  err?: (line: string) => void;
}

export async function run(argv: string[], runOptions: FetchRunOptions = {}): Promise<number> {
  const out = runOptions.out ?? ((line: string) => process.stdout.write(line + '\n'));
  const err = runOptions.err ?? ((line: string) => process.stderr.write(line + '\n'));
  let parsed;
  let interval: number | undefined;
  let timeoutMs: number;
  try {
    parsed = parseCommand(argv, OPTIONS, ['url']);
    if (parsed === null) {
      process.stdout.write(usage);
      return 0;
    }
    if (typeof parsed.values.dir !== 'string') throw new UsageError('--dir <dir> is required');
    interval = intOption(parsed.values, 'interval', 1, 86_400);
    timeoutMs = intOption(parsed.values, 'timeout-ms', 100, 3_600_000) ?? 30_000;
  } catch (e) {
    return reportError('fetch', usage, e);
  }

  const controller = new AbortController();
  const stop = () => controller.abort();
  runOptions.signal?.addEventListener('abort', stop, { once: true });
  // Installed for one-shot runs too: without a handler, SIGTERM would kill the process mid-write
  // and leave a temp file; with it, the download is aborted and the temp file removed.
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const dispatcher = createDispatcher(timeoutMs);
  const stamp = () => (interval === undefined ? '' : `${new Date().toISOString()} `);
  try {
    const dir = resolve(parsed.values.dir);
    let source;
    try {
      source = resolveSource(parsed.positionals[0], typeof parsed.values.name === 'string' ? parsed.values.name : undefined);
      await mkdir(dir, { recursive: true });
    } catch (e) {
      const problem = mkdirProblem(e, '--dir', dir);
      return reportError('fetch', usage, problem === null ? e : new CliError(problem));
    }
    const memory = emptyMemory();
    for (;;) {
      const started = process.hrtime.bigint();
      try {
        const result = await syncIndex({ source, dir, dispatcher, signal: controller.signal }, memory);
        out(`${stamp()}nnserve fetch: ${source.localName}: ${summary(result)} in ${elapsed(started)} (${source.manifestUrl.href})`);
      } catch (e) {
        if (controller.signal.aborted) {
          err(`${stamp()}nnserve fetch: ${source.localName}: interrupted; nothing replaced`);
          return interval === undefined ? 1 : 0;
        }
        const message = e instanceof FetchError ? e.message : (e as Error).stack ?? String(e);
        err(`${stamp()}nnserve fetch: ${source.localName}: failed, nothing replaced: ${message}`);
        if (interval === undefined) return 1;
      }
      if (interval === undefined) return 0;
      try {
        await sleep(interval * 1000, undefined, { signal: controller.signal });
      } catch {
        out(`${stamp()}nnserve fetch: ${source.localName}: stopping`);
        return 0;
      }
    }
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    runOptions.signal?.removeEventListener('abort', stop);
    await dispatcher.close().catch(() => undefined);
  }
}

function summary(result: SyncResult): string {
  const sha = result.sha256 ? `sha256 ${result.sha256.slice(0, 12)}…, ` : '';
  return `${result.status} (${sha}${result.bytes} bytes; ${result.detail})`;
}

function elapsed(started: bigint): string {
  return `${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(2)} s`;
}
