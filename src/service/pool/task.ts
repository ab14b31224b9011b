import type { MetricName } from '../../annoy/metrics/names.js';
import type { IndexStorage } from '../../annoy/storage.js';

/** One query: an internal item number, or a query vector. */
export type QuerySpec = number | Float32Array;

/**
 * A query task as the main thread plans it. It names the version it was planned on and holds that
 * version's shared storage, so a worker can answer for any version without being told about swaps.
 */
export interface QueryTask {
  name: string;
  version: number;
  /** The version's registry-wide id: what the version table holds while it is current. */
  generation: number;
  /** Row of `name` in the shared version table (see IndexRegistry.versions). */
  slot: number;
  /** Sent to a worker only when it asks (see QueryMessage). */
  storage: IndexStorage;
  metric: MetricName;
  dimensions: number;
  queries: QuerySpec[];
  n: number;
  searchK: number;
  includeDistances: boolean;
  /** Date.now() after which the caller has given up (504): a worker skips the task if it has not started. */
  deadlineAt: number;
}

/**
 * A task as posted to a worker: without the storage, unless the worker asked for it. Cloning a
 * shared WebAssembly memory into a message costs both threads more than the rest of the task
 * (a new wrapper object on each side, registered with the memory), and a worker needs it only for
 * a version it has not opened yet.
 */
export type QueryMessage = Omit<QueryTask, 'storage'> & { storage?: IndexStorage };

/** Asks a worker to drop cached versions that are no longer current (sent after a swap). */
export interface SweepTask {
  sweep: true;
}

/** A worker's answer to a SweepTask: which thread swept (Piscina cannot aim a task at one). */
export interface SweepReply {
  sweptBy: number;
}

export interface QueryAnswer {
  ids: number[];
  distances?: number[];
  /** Unique items scored, as counted by the engine. */
  candidates: number;
  /** Time the engine spent on this query, in seconds. */
  seconds: number;
}

/**
 * Input errors come back as values: Error subclasses lose their identity crossing threads.
 * 'storage': the worker has not opened the task's version; send the task again with its storage.
 */
export type QueryReply = { answers: QueryAnswer[] } | { error: { code: 'input' | 'deadline' | 'internal' | 'storage'; message: string } };

export interface WorkerData {
  versions: Int32Array;
}
