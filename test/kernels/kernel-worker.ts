// Worker fixture for threads.test.ts: hammers the shared scratch slots (or, over a plain
// SharedArrayBuffer, this thread's gathering scratch) and checks every result.
import { parentPort, workerData } from 'node:worker_threads';
import { SCRATCH_SLOTS, WASM_DATA_OFFSET, type IndexStorage } from '../../src/annoy/storage.js';
import type { BatchOp, KernelSession } from '../../src/annoy/kernels/kernels.js';
import { createKernels } from '../../src/annoy/kernels/select-kernels.js';
import { close, randomVector, reference, rng, vectorAt } from './helpers.js';

export interface WorkerJob {
  /** The storage: a WebAssembly memory (node data after WASM_DATA_OFFSET) or a plain buffer (from 0). */
  memory?: WebAssembly.Memory;
  buffer?: SharedArrayBuffer;
  byteLength: number;
  f: number;
  nodes: number;
  nodeBytes: number;
  vOffset: number;
  seed: number;
  rounds: number;
  /** Sessions held open at once; two workers together hold more than SCRATCH_SLOTS. */
  hold: number;
  /** Start barrier: every worker increments it and waits for all, so the rounds overlap. */
  barrier: Int32Array;
  workers: number;
}

export interface WorkerResult {
  checked: number;
  bad: number;
  kind: string;
  /** Most slots seen busy at once (SCRATCH_SLOTS means some sessions fell back to JS). */
  maxBusy: number;
}

const job = workerData as WorkerJob;
const storage: IndexStorage = job.memory
  ? { buffer: job.memory.buffer, byteOffset: WASM_DATA_OFFSET, byteLength: job.byteLength, memory: job.memory }
  : { buffer: job.buffer!, byteOffset: 0, byteLength: job.byteLength };
const { f, nodes, nodeBytes, vOffset } = job;
const kernels = createKernels(storage, f);
const random = rng(job.seed);
const ops: readonly BatchOp[] = ['dot', 'l2', 'l1'];
const vectors = Array.from({ length: nodes }, (_, id) => vectorAt(storage.buffer, storage.byteOffset + id * nodeBytes + vOffset, f));
const ids = new Int32Array(64);
const out = new Float64Array(64);
let checked = 0;
let bad = 0;
let maxBusy = 0;
const flags = job.memory ? new Int32Array(storage.buffer, 0, SCRATCH_SLOTS) : new Int32Array(0);

Atomics.add(job.barrier, 0, 1);
while (Atomics.load(job.barrier, 0) < job.workers) Atomics.wait(job.barrier, 0, Atomics.load(job.barrier, 0), 50);
Atomics.notify(job.barrier, 0);

for (let round = 0; round < job.rounds; round++) {
  const queries: Float32Array[] = [];
  const sessions: KernelSession[] = [];
  for (let h = 0; h < job.hold; h++) {
    queries.push(randomVector(f, random));
    sessions.push(kernels.open(queries[h]));
  }
  maxBusy = Math.max(maxBusy, flags.reduce((a, b) => a + b, 0));
  sessions.forEach((s, h) => {
    const op = ops[(round + h) % 3];
    for (let k = 0; k < ids.length; k++) ids[k] = Math.floor(random() * nodes);
    s.batch(op, ids, 0, ids.length, storage.byteOffset, nodeBytes, vOffset, out, Infinity);
    for (let k = 0; k < ids.length; k++) {
      checked++;
      if (!close(out[k], reference(op, queries[h], vectors[ids[k]]))) bad++;
    }
  });
  for (const s of sessions) s.release();
}

const result: WorkerResult = { checked, bad, kind: kernels.kind, maxBusy };
parentPort?.postMessage(result);
