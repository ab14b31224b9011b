import t from 'tap';
import { allocateStorage, SCRATCH_SLOTS, type IndexStorage } from '../../src/annoy/storage.js';
import { TWO_MEANS_SAMPLES, type TwoMeansMode, type VectorKernels } from '../../src/annoy/kernels/kernels.js';
import { createJsKernels } from '../../src/annoy/kernels/js-kernels.js';
import { createWasmKernels } from '../../src/annoy/kernels/wasm-kernels.js';
import { wasmKernelsSupported } from '../../src/annoy/kernels/wasm-module.js';
import { nodeArrays } from '../../src/annoy/node-arrays.js';
import { Kiss32Random } from '../../src/annoy/random.js';
import { metricByName } from '../../src/annoy/metrics/index.js';
import { cosineDistance } from '../../src/annoy/metrics/angular.js';
import type { BuildContext } from '../../src/annoy/metrics/metric.js';
import { drawTwoMeansSamples, twoMeans, twoMeansJs, type Centroids, type TwoMeansPolicy } from '../../src/annoy/metrics/two-means.js';
import { rng } from './helpers.js';

// WASM two_means against the JS loop on the same pre-drawn samples, per mode and dimension count.

const MODES: readonly TwoMeansMode[] = ['angular', 'dot', 'euclidean', 'manhattan'];
const DIMS = [1, 3, 4, 40, 100, 784];
const NODES = 300;

// The JS loop's arithmetic per mode, the same as the metric modules' policies (createSplit below
// cross-checks those through the real metrics).
const POLICIES: Readonly<Record<TwoMeansMode, TwoMeansPolicy>> = {
  angular: {
    mode: 'angular',
    extraWord: 1,
    cosine: true,
    distance(c, cSq, f32, w, node) {
      let pq = 0;
      for (let z = 0; z < c.length; z++) pq += c[z] * f32[w + z];
      return cosineDistance(pq, cSq, f32[node + 1]);
    },
    itemExtra: () => 0,
    storedNormSq: (f32, node) => f32[node + 1],
  },
  dot: {
    mode: 'dot',
    extraWord: 3,
    cosine: true,
    distance(c, _cSq, f32, w) {
      let s = 0;
      for (let z = 0; z < c.length; z++) s += c[z] * f32[w + z];
      return -s;
    },
    itemExtra: (f32, node) => f32[node + 3],
  },
  euclidean: {
    mode: 'euclidean',
    cosine: false,
    distance(c, _cSq, f32, w) {
      let s = 0;
      for (let z = 0; z < c.length; z++) s += (c[z] - f32[w + z]) ** 2;
      return s;
    },
    itemExtra: () => 0,
  },
  manhattan: {
    mode: 'manhattan',
    cosine: false,
    distance(c, _cSq, f32, w) {
      let s = 0;
      for (let z = 0; z < c.length; z++) s += Math.abs(c[z] - f32[w + z]);
      return s;
    },
    itemExtra: () => 0,
  },
};

interface Fixture {
  storage: IndexStorage;
  wasm: BuildContext;
  js: BuildContext;
}

/** NODES items written the way each metric stores them; every `zeroEvery`-th item is the zero vector. */
function fixture(mode: TwoMeansMode, f: number, seed: number, zeroEvery = 0, nodes = NODES): Fixture {
  const metric = metricByName(mode);
  const layout = metric.layout(f);
  const storage = allocateStorage(nodes * layout.nodeBytes);
  const arrays = nodeArrays(storage);
  const baseWord = storage.byteOffset / 4;
  const random = rng(seed);
  const v = new Float32Array(f);
  for (let id = 0; id < nodes; id++) {
    const zero = zeroEvery > 0 && id % zeroEvery === 0;
    for (let z = 0; z < f; z++) v[z] = zero ? 0 : random() * 2 - 1 + (z % 2 === 0 ? 0.3 : 0);
    const node = baseWord + id * layout.nodeWords;
    metric.writeItem(arrays, node, layout, v, f);
    // dot_factor: any extra coordinate will do here, zero for zero items so they have no norm.
    if (mode === 'dot') arrays.f32[node + 3] = zero ? 0 : random();
  }
  const ctx = (kernels: VectorKernels): BuildContext => ({
    nodes: arrays,
    baseWord,
    layout,
    dimensions: f,
    kernels,
    random: new Kiss32Random(seed),
  });
  return { storage, wasm: ctx(createWasmKernels(storage, f)), js: ctx(createJsKernels(storage, f)) };
}

function centroids(f: number): Centroids {
  return { p: new Float32Array(f), q: new Float32Array(f), pExtra: 0, qExtra: 0 };
}

function allIds(nodes = NODES): Int32Array {
  return Int32Array.from({ length: nodes }, (_, k) => k);
}

/** Largest difference between `got` and `want`, relative to the size of `want` (its largest component). */
function relativeError(got: Float32Array, want: Float32Array): number {
  let scale = 0;
  let diff = 0;
  for (let z = 0; z < want.length; z++) {
    if (!Number.isFinite(got[z])) return Infinity;
    scale = Math.max(scale, Math.abs(want[z]));
    diff = Math.max(diff, Math.abs(got[z] - want[z]));
  }
  return diff / Math.max(scale, 1e-30);
}

function extraClose(got: number, want: number): boolean {
  return Math.abs(got - want) <= 1e-4 * Math.max(Math.abs(want), 1e-3);
}

/** Runs the WASM kernel and the JS loop on the same samples; returns failure descriptions. */
function compare(fx: Fixture, mode: TwoMeansMode, samples: Int32Array, label: string): string[] {
  const f = fx.wasm.dimensions;
  const { layout, baseWord } = fx.wasm;
  const policy = POLICIES[mode];
  const w = centroids(f);
  const extras = fx.wasm.kernels.twoMeans!(samples, mode, baseWord * 4, layout.nodeBytes, layout.vectorWord * 4, (policy.extraWord ?? 0) * 4, w.p, w.q);
  if (extras === undefined) return [`${label}: wasm twoMeans declined`];
  const j = centroids(f);
  twoMeansJs(fx.js, samples, policy, j);
  const failures: string[] = [];
  const ep = relativeError(w.p, j.p);
  const eq = relativeError(w.q, j.q);
  if (!(ep <= 1e-4 && eq <= 1e-4)) failures.push(`${label}: centroid relative error p ${ep}, q ${eq}`);
  if (!extraClose(extras.pExtra, j.pExtra) || !extraClose(extras.qExtra, j.qExtra)) {
    failures.push(`${label}: extras wasm ${extras.pExtra}, ${extras.qExtra} vs js ${j.pExtra}, ${j.qExtra}`);
  }
  return failures;
}

const skip = wasmKernelsSupported() ? false : 'WebAssembly SIMD unavailable';

t.test('wasm two_means matches the JS loop on the same samples', { skip }, async (t) => {
  for (const mode of MODES) {
    for (const f of DIMS) {
      const fx = fixture(mode, f, 11 + f);
      const ids = allIds();
      const samples = new Int32Array(TWO_MEANS_SAMPLES);
      const failures: string[] = [];
      for (let round = 0; round < 4; round++) {
        drawTwoMeansSamples(fx.wasm.random, ids, NODES, samples);
        failures.push(...compare(fx, mode, samples, `${mode} f=${f} round ${round}`));
      }
      t.same(failures, [], `${mode} f=${f}`);
    }
  }
});

t.test('items with zero norm, also as seeds', { skip }, async (t) => {
  for (const mode of MODES) {
    for (const f of [3, 40]) {
      const fx = fixture(mode, f, 5, 4);
      const samples = new Int32Array(TWO_MEANS_SAMPLES);
      drawTwoMeansSamples(fx.wasm.random, allIds(), NODES, samples);
      const zeroSeed = Int32Array.from(samples);
      zeroSeed[0] = 0; // item 0 is a zero vector
      t.same(
        [...compare(fx, mode, samples, `${mode} f=${f}`), ...compare(fx, mode, zeroSeed, `${mode} f=${f} zero seed`)],
        [],
        `${mode} f=${f}`,
      );
    }
  }
  // A zero item changes nothing when skipped: all-zero iterations leave the seeds as they were.
  const fx = fixture('angular', 4, 9, 2, 10);
  const samples = new Int32Array(TWO_MEANS_SAMPLES).fill(0);
  samples[0] = 1;
  samples[1] = 3;
  const w = centroids(4);
  fx.wasm.kernels.twoMeans!(samples, 'angular', fx.wasm.baseWord * 4, fx.wasm.layout.nodeBytes, 12, 4, w.p, w.q);
  const j = centroids(4);
  twoMeansJs(fx.js, samples, POLICIES.angular, j);
  // Normalised in float32 (wasm) or double (JS): equal up to rounding.
  t.ok(relativeError(w.p, j.p) <= 1e-6, 'p is the normalised seed');
  t.ok(relativeError(w.q, j.q) <= 1e-6, 'q is the normalised seed');
});

t.test('twoMeans() draws the same stream with either kernels and agrees with the metrics', { skip }, async (t) => {
  for (const mode of MODES) {
    const f = 40;
    const fx = fixture(mode, f, 17);
    const w = centroids(f);
    const j = centroids(f);
    twoMeans(fx.wasm, allIds(), NODES, POLICIES[mode], w);
    twoMeans(fx.js, allIds(), NODES, POLICIES[mode], j);
    t.equal(fx.wasm.random.next(), fx.js.random.next(), `${mode}: same number of draws`);
    t.ok(relativeError(w.p, j.p) <= 1e-4 && relativeError(w.q, j.q) <= 1e-4, `${mode}: same centroids`);

    // The real metric policies: split planes from both kernels agree.
    const metric = metricByName(mode);
    const planeW = metric.newSplitPlane(fx.wasm.layout);
    const planeJ = metric.newSplitPlane(fx.js.layout);
    metric.createSplit(fx.wasm, allIds(), NODES, planeW);
    metric.createSplit(fx.js, allIds(), NODES, planeJ);
    const err = relativeError(planeW.vector as Float32Array, planeJ.vector as Float32Array);
    t.ok(err <= 1e-3, `${mode}: split normals agree (relative error ${err})`);
    t.ok(Math.abs(planeW.extra - planeJ.extra) <= 1e-3 * Math.max(1, Math.abs(planeJ.extra)), `${mode}: split offsets agree`);
  }
});

/**
 * Annoy 1.17's two_means for DotProduct as annoylib.h (Debian's r-cran-rcppannoy) writes it: the
 * seeds are normalised with their dot_factor; the loop's distance, norm and mean use the vector alone,
 * so the centroids' dot_factor stays the seeds'. Plain double arithmetic into float32 centroids.
 */
function annoyDotTwoMeans(fx: Fixture, samples: Int32Array): Centroids {
  const { nodes, baseWord, layout, dimensions: f } = fx.js;
  const node = (id: number): number => baseWord + id * layout.nodeWords;
  const vector = (id: number): Float32Array => nodes.f32.subarray(node(id) + layout.vectorWord, node(id) + layout.vectorWord + f);
  const dotFactor = (id: number): number => nodes.f32[node(id) + (POLICIES.dot.extraWord ?? 0)];
  const dot = (a: Float32Array, b: Float32Array): number => a.reduce((sum, x, z) => sum + x * b[z], 0);
  const seed = (id: number): { v: Float32Array; extra: number } => {
    const v = Float32Array.from(vector(id));
    let extra = dotFactor(id);
    const norm = Math.sqrt(dot(v, v) + extra * extra);
    if (norm > 0) {
      for (let z = 0; z < f; z++) v[z] /= norm;
      extra /= norm;
    }
    return { v, extra };
  };
  const p = seed(samples[0]);
  const q = seed(samples[1]);
  let ic = 1;
  let jc = 1;
  for (let l = 2; l < samples.length; l++) {
    const x = vector(samples[l]);
    const di = ic * -dot(p.v, x);
    const dj = jc * -dot(q.v, x);
    const norm = Math.sqrt(dot(x, x));
    if (!(norm > 0)) continue;
    if (di < dj) {
      for (let z = 0; z < f; z++) p.v[z] = (p.v[z] * ic + x[z] / norm) / (ic + 1);
      ic++;
    } else if (dj < di) {
      for (let z = 0; z < f; z++) q.v[z] = (q.v[z] * jc + x[z] / norm) / (jc + 1);
      jc++;
    }
  }
  return { p: p.v, q: q.v, pExtra: p.extra, qExtra: q.extra };
}

t.test("dot: both kernels follow Annoy 1.17's two_means (dot_factor only in the seeds)", { skip }, async (t) => {
  for (const f of [3, 40, 100]) {
    const fx = fixture('dot', f, 23 + f);
    const samples = new Int32Array(TWO_MEANS_SAMPLES);
    for (let round = 0; round < 3; round++) {
      drawTwoMeansSamples(fx.js.random, allIds(), NODES, samples);
      const want = annoyDotTwoMeans(fx, samples);
      const { layout, baseWord } = fx.wasm;
      const w = centroids(f);
      const extras = fx.wasm.kernels.twoMeans!(samples, 'dot', baseWord * 4, layout.nodeBytes, layout.vectorWord * 4, (POLICIES.dot.extraWord ?? 0) * 4, w.p, w.q);
      const j = centroids(f);
      twoMeansJs(fx.js, samples, POLICIES.dot, j);
      const label = `f=${f} round ${round}`;
      t.ok(relativeError(w.p, want.p) <= 1e-4 && relativeError(w.q, want.q) <= 1e-4, `${label}: wasm centroids`);
      t.ok(relativeError(j.p, want.p) <= 1e-4 && relativeError(j.q, want.q) <= 1e-4, `${label}: JS centroids`);
      t.ok(extras !== undefined && extraClose(extras.pExtra, want.pExtra) && extraClose(extras.qExtra, want.qExtra), `${label}: wasm dot_factors are the seeds'`);
      t.ok(extraClose(j.pExtra, want.pExtra) && extraClose(j.qExtra, want.qExtra), `${label}: JS dot_factors are the seeds'`);
    }
  }
});

t.test('falls back to JS when f does not fit a scratch slot; to the gathering kernels when no slot is free', { skip }, async (t) => {
  const big = 17000; // 2 × 68 KB of centroids > one 128 KiB slot
  const fx = fixture('euclidean', big, 3, 0, 6);
  const samples = new Int32Array(TWO_MEANS_SAMPLES);
  drawTwoMeansSamples(new Kiss32Random(1), allIds(6), 6, samples);
  const w = centroids(big);
  const { baseWord, layout } = fx.wasm;
  t.equal(fx.wasm.kernels.twoMeans!(samples, 'euclidean', baseWord * 4, layout.nodeBytes, 16, 0, w.p, w.q), undefined, 'declines f too large');
  const viaApi = centroids(big);
  twoMeans(fx.wasm, allIds(6), 6, POLICIES.euclidean, viaApi);
  const viaJs = centroids(big);
  twoMeans(fx.js, allIds(6), 6, POLICIES.euclidean, viaJs);
  t.same(Array.from(viaApi.p), Array.from(viaJs.p), 'twoMeans() computed it in JS');

  const small = fixture('angular', 8, 4);
  const flags = new Int32Array(small.storage.buffer, 0, SCRATCH_SLOTS);
  drawTwoMeansSamples(new Kiss32Random(2), allIds(), NODES, samples);
  const c = centroids(8);
  const call = () => small.wasm.kernels.twoMeans!(samples, 'angular', small.wasm.baseWord * 4, small.wasm.layout.nodeBytes, 12, 4, c.p, c.q);
  flags.fill(1);
  const busy = call();
  const busyP = Array.from(c.p);
  t.not(busy, undefined, 'runs when every slot is busy (on gathered copies)');
  t.same(Array.from(flags), new Array(SCRATCH_SLOTS).fill(1), 'without taking a slot');
  flags.fill(0);
  const inSlot = call();
  t.same(inSlot, busy, 'the same extras as in a slot');
  t.same(Array.from(c.p), busyP, 'the same centroids as in a slot');
  t.same(Array.from(flags), new Array(SCRATCH_SLOTS).fill(0), 'gives its slot back');
  t.throws(() => small.wasm.kernels.twoMeans!(new Int32Array(5), 'angular', 0, 44, 12, 4, c.p, c.q), RangeError);
});
