import t from 'tap';
import { Worker } from 'node:worker_threads';
import { allocateStorage, SCRATCH_SLOTS } from '../../src/annoy/storage.js';
import { fillNodes, rng } from './helpers.js';
import type { WorkerJob, WorkerResult } from './kernel-worker.js';

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

  const results = await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const job: WorkerJob = {
        memory: storage.memory!, byteLength: storage.byteLength, f, nodes, nodeBytes, vOffset,
        seed: 100 + w, rounds: 150, hold: 10, barrier, workers,
      };
      const worker = new Worker(new URL('./kernel-worker.js', import.meta.url), { workerData: job });
      return new Promise<WorkerResult>((resolve, reject) => {
        worker.once('message', (r: WorkerResult) => resolve(r));
        worker.once('error', reject);
        worker.once('exit', (code) => { if (code !== 0) reject(new Error(`worker exited with ${code}`)); });
      });
    }),
  );

  for (const [w, r] of results.entries()) {
    t.equal(r.kind, 'wasm-simd', `worker ${w} uses WASM`);
    t.equal(r.bad, 0, `worker ${w}: ${r.checked} distances, none wrong`);
    t.comment(`worker ${w} saw up to ${r.maxBusy} of ${SCRATCH_SLOTS} slots busy`);
  }
  const flags = new Int32Array(storage.buffer, 0, SCRATCH_SLOTS);
  t.same(Array.from(flags), new Array(SCRATCH_SLOTS).fill(0), 'all slots free afterwards');
});
