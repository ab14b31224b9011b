import t from 'tap';
import { allocateStorage, SCRATCH_SLOTS, storageBytes, type IndexStorage } from '../../src/annoy/storage.js';
import { TWO_MEANS_SAMPLES, type BatchOp, type TwoMeansMode, type VectorKernels } from '../../src/annoy/kernels/kernels.js';
import { createGatherKernels } from '../../src/annoy/kernels/gather-kernels.js';
import { createWasmKernels } from '../../src/annoy/kernels/wasm-kernels.js';
import { wasmKernelsSupported } from '../../src/annoy/kernels/wasm-module.js';
import { AnnoyBuilder, buildForestPart, forestPlan } from '../../src/annoy/annoy-builder.js';
import { AnnoyIndex } from '../../src/annoy/index.js';
import type { MetricName } from '../../src/annoy/metrics/names.js';
import { metricByName } from '../../src/annoy/metrics/index.js';
import { nodeArrays } from '../../src/annoy/node-arrays.js';
import { Kiss32Random } from '../../src/annoy/random.js';
import { drawTwoMeansSamples } from '../../src/annoy/metrics/two-means.js';
import { close, fillNodes, randomVector, reference, rng, vectorAt } from './helpers.js';

// Gathering kernels (plain buffers, e.g. indexes over 4 GiB) run the in-place kernels over copies:
// every result must be bit-identical to the in-place WASM kernels on the same bytes.

const skip = wasmKernelsSupported() ? false : 'WebAssembly SIMD unavailable';
const OPS: readonly BatchOp[] = ['dot', 'l2', 'l1'];

/** `bytes` copied into a new storage: a WebAssembly memory (in-place kernels) or, with `wasm: false`, a plain SharedArrayBuffer. */
function storageWith(bytes: Uint8Array, options: { wasm?: boolean } = {}): IndexStorage {
  const s = allocateStorage(bytes.byteLength, options);
  storageBytes(s).set(bytes);
  return s;
}

/** The same bytes twice: in a WebAssembly memory and in a plain SharedArrayBuffer at another offset. */
function twin(byteLength: number, fill: (s: IndexStorage) => void): { wasm: IndexStorage; plain: IndexStorage } {
  const wasm = allocateStorage(byteLength);
  fill(wasm);
  return { wasm, plain: storageWith(storageBytes(wasm), { wasm: false }) };
}

function same(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

t.test('sessions, stored distances and bounded batches are bit-identical to in-place WASM', { skip }, async (t) => {
  for (const f of [1, 3, 4, 15, 16, 17, 40, 64, 100, 160, 784, 1000]) {
    const nodes = 700; // more than one gather chunk (≤ 256 vectors)
    const vOffset = 12;
    const nodeBytes = vOffset + f * 4 + 4 * (f % 3);
    const { wasm, plain } = twin(nodes * nodeBytes, (s) => fillNodes(s.buffer, s.byteOffset, nodes, nodeBytes, vOffset, f, rng(f)));
    const inPlace = createWasmKernels(wasm, f);
    const gather = createGatherKernels(plain, f);
    t.equal(gather.kind, 'wasm-simd-gather');
    const random = rng(1000 + f);
    const q = randomVector(f, random);
    // Long vectors: a batch longer than an in-place scratch chunk (≈ 10,600 ids at f = 784), whose
    // boundaries must not change a result.
    const ids = Int32Array.from({ length: f >= 784 ? 12_000 : 650 }, () => Math.floor(random() * nodes));
    const failures: string[] = [];
    const sw = inPlace.open(q);
    const sg = gather.open(q);
    q.fill(0); // each session holds its own copy
    for (let id = 0; id < nodes; id += 7) {
      const [wv, gv] = [wasm.byteOffset + id * nodeBytes + vOffset, plain.byteOffset + id * nodeBytes + vOffset];
      const other = (id * 13 + 5) % nodes;
      const [wo, go] = [wasm.byteOffset + other * nodeBytes + vOffset, plain.byteOffset + other * nodeBytes + vOffset];
      const pairs: Array<[string, number, number]> = [
        ['dot', sw.dot(wv), sg.dot(gv)],
        ['dotStored', inPlace.dotStored(wv, wo), gather.dotStored(gv, go)],
        ['l2Stored', inPlace.l2Stored(wv, wo), gather.l2Stored(gv, go)],
        ['l1Stored', inPlace.l1Stored(wv, wo), gather.l1Stored(gv, go)],
      ];
      for (const [name, w, g] of pairs) if (!Object.is(w, g)) failures.push(`f=${f} ${name}(${id}) in place ${w}, gathered ${g}`);
      // And both are right, not merely equal.
      const want = reference('dot', vectorAt(wasm.buffer, wv, f), vectorAt(wasm.buffer, wo, f));
      if (!close(gather.dotStored(gv, go), want)) failures.push(`f=${f} dotStored(${id}) wrong`);
    }
    for (const op of OPS) {
      const exact = new Float64Array(ids.length);
      sw.batch(op, ids, 0, ids.length, wasm.byteOffset, nodeBytes, vOffset, exact, Infinity);
      const sorted = [...exact].sort((x, y) => x - y);
      for (const bound of [Infinity, Math.fround(sorted[10] / 2), Math.fround(sorted[ids.length >> 1])]) {
        const w = new Float64Array(ids.length + 2).fill(-1);
        const g = new Float64Array(ids.length + 2).fill(-1);
        sw.batch(op, ids, 3, ids.length, wasm.byteOffset, nodeBytes, vOffset, w, bound);
        sg.batch(op, ids, 3, ids.length, plain.byteOffset, nodeBytes, vOffset, g, bound);
        if (!same(w, g)) failures.push(`f=${f} batch ${op} bound ${bound} differs`);
      }
    }
    sw.release();
    sg.release();
    t.same(failures.slice(0, 5), [], `f=${f}`);
  }
});

t.test('a second session on the same thread while one is open uses JS and stays correct', { skip }, async (t) => {
  const f = 200;
  const nodes = 50;
  const nodeBytes = 16 + f * 4;
  const { wasm, plain } = twin(nodes * nodeBytes, (s) => fillNodes(s.buffer, s.byteOffset, nodes, nodeBytes, 16, f, rng(3)));
  const gather = createGatherKernels(plain, f);
  const inPlace = createWasmKernels(wasm, f);
  const random = rng(4);
  const [q1, q2] = [randomVector(f, random), randomVector(f, random)];
  const ids = Int32Array.from({ length: nodes }, (_, i) => i);
  const run = (k: VectorKernels, s: IndexStorage, q: Float32Array, held?: ReturnType<VectorKernels['open']>): Float64Array => {
    const out = new Float64Array(nodes);
    const session = held ?? k.open(q);
    session.batch('l2', ids, 0, nodes, s.byteOffset, nodeBytes, 16, out, Infinity);
    if (!held) session.release();
    return out;
  };
  const first = gather.open(q1);
  const nested = run(gather, plain, q2);
  t.ok(Array.from(ids).every((id) => close(nested[id], reference('l2', q2, vectorAt(plain.buffer, plain.byteOffset + id * nodeBytes + 16, f)))), 'nested session answers for its own query');
  t.ok(same(run(gather, plain, q1, first), run(inPlace, wasm, q1)), 'the first session still sees its query, bit-identical');
  first.release();
  t.throws(() => first.dot(plain.byteOffset + 16), /after release/);
  t.ok(same(run(gather, plain, q2), run(inPlace, wasm, q2)), 'after release the scratch serves again');
  t.throws(() => gather.open(new Float32Array(f - 1)), RangeError);
  t.throws(() => createGatherKernels(plain, 16385), RangeError);
});

t.test('two_means over gathered node records is bit-identical to in-place WASM', { skip }, async (t) => {
  const modes: readonly TwoMeansMode[] = ['angular', 'dot', 'euclidean', 'manhattan'];
  const extraWord: Readonly<Record<TwoMeansMode, number>> = { angular: 1, dot: 3, euclidean: 0, manhattan: 0 };
  const nodes = 300;
  for (const mode of modes) {
    for (const f of [1, 3, 40, 100, 784]) {
      const layout = metricByName(mode).layout(f);
      const random = rng(f * 7 + mode.length);
      const { wasm, plain } = twin(nodes * layout.nodeBytes, (s) => {
        const arrays = nodeArrays(s);
        const v = new Float32Array(f);
        for (let id = 0; id < nodes; id++) {
          for (let z = 0; z < f; z++) v[z] = random() * 2 - 1;
          const node = s.byteOffset / 4 + id * layout.nodeWords;
          metricByName(mode).writeItem(arrays, node, layout, v, f);
          if (mode === 'dot') arrays.f32[node + 3] = random();
        }
      });
      const samples = new Int32Array(TWO_MEANS_SAMPLES);
      drawTwoMeansSamples(new Kiss32Random(f), Int32Array.from({ length: nodes }, (_, k) => k), nodes, samples);
      const run = (k: VectorKernels, s: IndexStorage) => {
        const p = new Float32Array(f);
        const q = new Float32Array(f);
        const extras = k.twoMeans!(samples, mode, s.byteOffset, layout.nodeBytes, layout.vectorWord * 4, extraWord[mode] * 4, p, q);
        return { p, q, extras };
      };
      const w = run(createWasmKernels(wasm, f), wasm);
      const g = run(createGatherKernels(plain, f), plain);
      t.ok(g.extras !== undefined && same(w.p, g.p) && same(w.q, g.q) && Object.is(w.extras?.pExtra, g.extras.pExtra) && Object.is(w.extras?.qExtra, g.extras.qExtra), `${mode} f=${f}`);
      // Every scratch slot of the memory taken (more build threads than slots): the in-place kernels
      // hand two_means to the gathering ones, so the tree still comes out the same.
      const flags = new Int32Array(wasm.buffer, 0, SCRATCH_SLOTS);
      flags.fill(1);
      const busy = run(createWasmKernels(wasm, f), wasm);
      flags.fill(0);
      t.ok(busy.extras !== undefined && same(w.p, busy.p) && same(w.q, busy.q) && Object.is(w.extras?.pExtra, busy.extras.pExtra) && Object.is(w.extras?.qExtra, busy.extras.qExtra), `${mode} f=${f}, every slot taken`);
    }
  }
  const plain = allocateStorage(1024, { wasm: false });
  const p = new Float32Array(4);
  t.equal(createGatherKernels(plain, 4).twoMeans!(new Int32Array(TWO_MEANS_SAMPLES), 'euclidean', 0, 90_000, 16, 0, p, p.slice()), undefined, 'declines node records that do not fit the scratch');
  t.throws(() => createGatherKernels(plain, 4).twoMeans!(new Int32Array(3), 'euclidean', 0, 32, 16, 0, p, p.slice()), RangeError);
});

t.test('the engine builds and answers the same over a plain buffer (f ≥ 160) as over a WebAssembly memory', { skip }, async (t) => {
  const f = 192;
  for (const metric of ['angular', 'euclidean', 'manhattan', 'dot'] as const satisfies readonly MetricName[]) {
    const random = rng(metric.length);
    const items = Array.from({ length: 1500 }, () => randomVector(f, random));
    const builder = (): AnnoyBuilder => {
      const b = new AnnoyBuilder(metric, f, { seed: 42 });
      items.forEach((v, i) => b.addItem(i, v));
      return b;
    };
    const inPlace = builder();
    inPlace.build(6);
    const file = inPlace.save();

    // The same trees built through the gathering kernels: the prepared items moved to a plain buffer.
    const gathered = builder();
    const prepared = gathered.prepare();
    const moved = { ...prepared, storage: storageWith(storageBytes(prepared.storage), { wasm: false }) };
    gathered.finish(moved, [buildForestPart(moved, forestPlan(6, moved.nItems, 1, 0), 0)]);
    t.ok(Buffer.from(gathered.save()).equals(Buffer.from(file)), `${metric}: the file built over a plain buffer is byte-identical`);

    const a = AnnoyIndex.open(storageWith(file), metric, f);
    // In a plain buffer the engine picks the gathering kernels by itself (f ≥ GATHER_MIN_DIMENSIONS).
    const b = AnnoyIndex.open(storageWith(file, { wasm: false }), metric, f);
    t.equal(a.kernels.kind, 'wasm-simd');
    t.equal(b.kernels.kind, 'wasm-simd-gather');
    let mismatches = 0;
    for (let k = 0; k < 20; k++) {
      const q = randomVector(f, random);
      for (const searchK of [-1, 50, 2000]) {
        const ra = a.getNnsByVector(q, 10, searchK, true);
        const rb = b.getNnsByVector(q, 10, searchK, true);
        if (!same(ra.ids, rb.ids) || !same(ra.distances!, rb.distances!)) mismatches++;
      }
      const ia = a.getNnsByItem(k * 17, 10, -1, true);
      const ib = b.getNnsByItem(k * 17, 10, -1, true);
      if (!same(ia.ids, ib.ids) || !same(ia.distances!, ib.distances!)) mismatches++;
      if (!Object.is(a.getDistance(k, k + 1), b.getDistance(k, k + 1))) mismatches++;
    }
    t.equal(mismatches, 0, `${metric}: same ids and distances, bit for bit`);
  }
});
