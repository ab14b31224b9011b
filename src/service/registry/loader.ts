import { Worker } from 'node:worker_threads';
import { reviveStorage, type IndexStorage } from '../../annoy/storage.js';
import { workerExecArgv } from '../pool/exec-argv.js';
import type { IndexManifest } from '../../index-files/manifest.js';

export interface LoadRequest {
  dir: string;
  name: string;
}

/** What the loader worker posts back; `storage` arrives shared (no copy of the index bytes). */
export interface LoadedIndex {
  manifest: IndexManifest;
  ids: string[] | null;
  /** idLookupTable(ids), built on the loader thread (arrives shared); null without ids, or when not built there (publish builds it then). */
  idTable: Int32Array | null;
  storage: IndexStorage;
  items: number;
  trees: number;
}

/** `transient`: the failure was of the moment (memory, descriptors), not of the files. */
export type LoadReply = ({ ok: true } & LoadedIndex) | { ok: false; message: string; transient: boolean };

export class IndexLoadError extends Error {
  override name = 'IndexLoadError';
  /** True when loading the same files again later may succeed (see isTransientLoadFailure). */
  constructor(
    message: string,
    readonly transient = false,
  ) {
    super(message);
  }
}

const LOADER_URL = new URL('../../../workers/load-index.js', import.meta.url);

/**
 * Reads and validates one index on a throw-away worker thread, so reading and checking a large file
 * never blocks the event loop. Rejects with IndexLoadError carrying the reason, or with the
 * signal's reason when aborted.
 */
export function loadIndexInWorker(request: LoadRequest, signal?: AbortSignal): Promise<LoadedIndex> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(LOADER_URL, { workerData: request, execArgv: workerExecArgv() });
    let settled = false;
    // Abandoned (timeout, shutdown): stop the thread between two reads. A thread stuck inside one
    // read of a hung mount cannot be stopped, and Node cannot exit while it exists: that takes a
    // SIGKILL. Unref'd, it at least does not count as work keeping the event loop alive.
    signal?.addEventListener(
      'abort',
      () => {
        if (!settled) reject(signal.reason);
        settled = true;
        worker.unref();
        void worker.terminate();
      },
      { once: true },
    );
    worker.once('message', (reply: LoadReply) => {
      settled = true;
      if (reply.ok) {
        const { manifest, ids, idTable, storage, items, trees } = reply;
        resolve({ manifest, ids, idTable, items, trees, storage: reviveStorage(storage) });
      } else {
        reject(new IndexLoadError(reply.message, reply.transient));
      }
      void worker.terminate();
    });
    worker.once('error', (err) => {
      // A crashed loader (out of memory, most often) says nothing about the files.
      if (!settled) reject(new IndexLoadError(`loader crashed: ${err.message}`, true));
      settled = true;
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new IndexLoadError(`loader exited with code ${code}`, true));
      settled = true;
    });
  });
}
