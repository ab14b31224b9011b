/**
 * Node options for the service's worker threads: the parent's, minus module preloads (`--import`,
 * `--require`, `--loader`). Preloads are for the main thread (instrumentation, test runners'
 * TypeScript hooks); workers only run the engine, and re-running preloads in every worker made
 * each worker start several times slower.
 */
const PRELOAD_FLAGS = ['--import', '--require', '-r', '--loader', '--experimental-loader'];

export function workerExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
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
