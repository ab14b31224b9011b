import { Worker } from 'node:worker_threads';

/**
 * Node options for the service's worker threads: the parent's, minus module preloads (`--import`,
 * `--require`, `--loader`) and minus the process-wide options Node refuses in a worker's execArgv.
 * Preloads are for the main thread (instrumentation, test runners' TypeScript hooks); workers only
 * run the engine, and re-running preloads in every worker made each worker start several times
 * slower. Process-wide options (`--max-old-space-size`, `--stack-size`, `--perf-basic-prof`, ...)
 * already apply to every thread, and passing them on makes `new Worker` throw: the service could
 * not start under `node --max-old-space-size=4096`.
 */
const PRELOAD_FLAGS = ['--import', '--require', '-r', '--loader', '--experimental-loader'];

export function workerExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  if (execArgv === process.execArgv) return (forThisProcess ??= withoutRefused(withoutPreloads(execArgv)));
  return withoutRefused(withoutPreloads(execArgv));
}

let forThisProcess: string[] | undefined;

function withoutPreloads(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i];
    if (PRELOAD_FLAGS.includes(arg)) {
      i++;
      continue;
    }
    if (PRELOAD_FLAGS.some((f) => arg.startsWith(`${f}=`))) continue;
    out.push(arg);
  }
  return out;
}

/**
 * Node names the options it refuses in its error, whatever its version, so one probe worker (stopped
 * at once) finds them. A refused option written with its value as a separate argument loses the
 * value too; if the rest is still refused, workers get no options at all rather than fail to start.
 */
function withoutRefused(flags: string[]): string[] {
  const refused = refusedFlags(flags);
  if (refused === null) return flags;
  const kept: string[] = [];
  for (let i = 0; i < flags.length; i++) {
    if (!refused.has(flags[i])) kept.push(flags[i]);
    else if (i + 1 < flags.length && !flags[i + 1].startsWith('-')) i++;
  }
  return refusedFlags(kept) === null ? kept : [];
}

/** The options a worker refuses, or null when it accepts them all. */
function refusedFlags(flags: string[]): Set<string> | null {
  if (flags.length === 0) return null;
  try {
    const probe = new Worker('', { eval: true, execArgv: flags });
    probe.unref();
    void probe.terminate();
    return null;
  } catch (err) {
    if (!(err instanceof Error) || (err as NodeJS.ErrnoException).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw err;
    const listed = err.message.slice(err.message.indexOf(':') + 1);
    return new Set(listed.split(',').map((f) => f.trim()));
  }
}
