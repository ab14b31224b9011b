import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Why the service collects garbage by hand: a replaced index lives in a shared WebAssembly memory
 * whose bytes are freed only once every thread that received it has garbage-collected its wrapper
 * objects, and V8 does not count that memory as heap pressure. An idle thread may then never
 * collect, and each hot-swap would keep the old version resident (measured: +76 MiB per swap of a
 * 121 MiB index). After a version is released, the main thread and every query worker run one
 * full collection: a few milliseconds, once per swap.
 *
 * The flag must be set before the worker threads start, so their globals get `gc` too.
 */
let collect: (() => void) | undefined;

export function enableExplicitGc(): void {
  if (collect) return;
  setFlagsFromString('--expose-gc');
  collect = runInNewContext('gc') as () => void;
}

/** A full collection on this thread, when enableExplicitGc() ran in this process. */
export function collectGarbage(): void {
  (collect ?? globalThis.gc)?.();
}
