import t from 'tap';
import { Worker } from 'node:worker_threads';
import { allocateStorage, SCRATCH_SLOTS } from '../../src/annoy/storage.js';
import { GATHER_MIN_DIMENSIONS } from '../../src/annoy/kernels/select-kernels.js';
import { fillNodes, rng } from './helpers.js';
import type { WorkerJob, WorkerResult } from './kernel-worker.js';

function runWorkers(workers: number, job: (w: number) => WorkerJob): Promise<WorkerResult[]> {
  return Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const worker = new Worker(new URL('./kernel-worker.js', import.meta.url), { workerData: job(w) });
      return new Promise<WorkerResult>((resolve, reject) => {
        worker.once('message', (r: WorkerResult) => resolve(r));
        worker.once('error', reject);
        worker.once('exit', (code) => { if (code !== 0) reject(new Error(`worker exited with ${code}`)); });
      });
    }),
  );
}

t.test('two worker threads sharing one memory get correct results and free every slot', async (t) => {
  const f = 24;
  const nodes = 50;
  const vOffset = 12;
  const nodeBytes = vOffset + f * 4;
  const storage = allocateStorage(nodes * nodeBytes);
  if (storage.memory === undefined) throw new Error('expected a WebAssembly-backed storage');
  fillNodes(storage.buffer, storage.byteOffset, nodes, nodeBytes, vOffset, f, rng(42));
  const barrier = new Int32Array(new SharedArrayBuffer(4));
  const workers = 2;

  const results = await runWorkers(workers, (w) => ({
    memory: storage.memory!, byteLength: storage.byteLength, f, nodes, nodeBytes, vOffset,
    seed: 100 + w, rounds: 150, hold: 10, barrier, workers,
  }));

  for (const [w, r] of results.entries()) {
    t.equal(r.kind, 'wasm-simd', `worker ${w} uses WASM`);
    t.equal(r.bad, 0, `worker ${w}: ${r.checked} distances, none wrong`);
    t.comment(`worker ${w} saw up to ${r.maxBusy} of ${SCRATCH_SLOTS} slots busy`);
  }
  const flags = new Int32Array(storage.buffer, 0, SCRATCH_SLOTS);
  t.same(Array.from(flags), new Array(SCRATCH_SLOTS).fill(0), 'all slots free afterwards');
});

t.test('two worker threads gathering from one plain SharedArrayBuffer, each through its own scratch, get correct results', async (t) => {
  const f = GATHER_MIN_DIMENSIONS + 8;
  const nodes = 50;
  const vOffset = 16;
  const nodeBytes = vOffset + f * 4;
  const storage = allocateStorage(nodes * nodeBytes, { wasm: false });
  fillNodes(storage.buffer, storage.byteOffset, nodes, nodeBytes, vOffset, f, rng(43));
  const barrier = new Int32Array(new SharedArrayBuffer(4));
  const workers = 2;
  // Two sessions held at once: the first of each round gathers, the second (scratch busy) runs in JS.
  const results = await runWorkers(workers, (w) => ({
    buffer: storage.buffer as SharedArrayBuffer, byteLength: storage.byteLength, f, nodes, nodeBytes, vOffset,
    seed: 200 + w, rounds: 150, hold: 2, barrier, workers,
  }));
  for (const [w, r] of results.entries()) {
    t.equal(r.kind, 'wasm-simd-gather', `worker ${w} gathers`);
    t.equal(r.bad, 0, `worker ${w}: ${r.checked} distances, none wrong`);
  }
});
