// Split-node hyperplanes at open: Annoy's create_split normalises every float metric's hyperplane,
// so a file whose "hyperplanes" are not unit vectors (a hamming file's split bits read as floats,
// a dot file's failed splits read as angular) is another metric's file even when its nodes have
// the right size and every tree field is in range.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { AnnoyBuilder, AnnoyIndex, IndexFormatError, storageFromBytes, type MetricName } from '../../src/annoy/index.js';
import { annoyRefPath, fixturesDir, loadFixtures } from '../helpers/fixtures.js';

const open = (bytes: Uint8Array, metric: MetricName, f: number): AnnoyIndex => AnnoyIndex.open(storageFromBytes(bytes), metric, f);
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(join(fixturesDir, name, 'index.ann')));

/** Deterministic rows in [-1, 1) (mulberry32), scaled. */
function rows(count: number, f: number, seed: number, scale = 1): Float32Array {
  let state = seed >>> 0;
  const out = new Float32Array(count * f);
  for (let i = 0; i < out.length; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    out[i] = scale * ((((x ^ (x >>> 14)) >>> 0) / 4294967296) * 2 - 1);
  }
  return out;
}

function build(metric: MetricName, f: number, data: Float32Array, trees: number, ids?: number[]): Uint8Array {
  const b = new AnnoyBuilder(metric, f, { seed: 7 });
  for (let r = 0; r < data.length / f; r++) b.addItem(ids ? ids[r] : r, data.subarray(r * f, (r + 1) * f));
  b.build(trees);
  return b.save();
}

function bitRows(count: number, bits: number, seed: number): Float32Array {
  return rows(count, bits, seed).map((x) => (x > 0 ? 1 : 0));
}

t.test("Annoy's hamming files read as a float metric are refused: their split bits are no hyperplanes", async (t) => {
  // 64 bits: 24-byte nodes, as angular f=3 and dot f=2; 100 bits: 32-byte nodes, angular f=5, dot f=4.
  for (const [name, angularF, dotF] of [['hamming-b64-s1', 3, 2], ['hamming-b100-s42', 5, 4]] as const) {
    const bytes = fixture(name);
    t.throws(
      () => open(bytes, 'angular', angularF),
      new RegExp(`not a valid angular f=${angularF} \\(\\d+-byte nodes\\) index: split node \\d+'s hyperplane has norm [-0-9.e+]+, not 1, and puts item \\d+ on the other side from the child that holds it \\(a hamming index\\?\\)`),
      `${name} as angular`,
    );
    t.throws(() => open(bytes, 'dot', dotF), /not a valid dot f=\d+ \(\d+-byte nodes\) index: split node \d+'s hyperplane has norm .*\(a hamming index\?\)/, `${name} as dot`);
    // The Minkowski layout puts its children where hamming keeps children[1] and padding: the tree
    // fields already give these away (kept here so that stays so).
    for (const metric of ['euclidean', 'manhattan'] as const) t.throws(() => open(bytes, metric, dotF), IndexFormatError, `${name} as ${metric}`);
    const summary = AnnoyIndex.inspect(storageFromBytes(bytes), 'angular', angularF);
    t.equal(summary.valid, false);
    t.match(summary.error, /hyperplane has norm/);
  }
});

t.test("nnserve's hamming files (zeroed padding) read as angular or dot are refused too", async (t) => {
  for (const [bits, angularF, dotF] of [[64, 3, 2], [256, 9, 8]] as const) {
    const bytes = build('hamming', bits, bitRows(600, bits, bits), 4);
    t.throws(() => open(bytes, 'angular', angularF), /split node \d+'s hyperplane has norm .*\(a hamming index\?\)/, `${bits} bits as angular`);
    t.throws(() => open(bytes, 'dot', dotF), /split node \d+'s hyperplane has norm .*\(a hamming index\?\)/, `${bits} bits as dot`);
    t.equal(open(bytes, 'hamming', bits).getNItems(), 600);
  }
});

t.test("Annoy's dot files read as angular with one dimension more are refused", async (t) => {
  // Angular f+1 reads dot_factor as v[0]: a normal split's (dot_factor, v) is the unit vector dot
  // normalises, but the random-split fallback zeroes only v, leaving (dot_factor, 0, .., 0).
  for (const name of ['dot-f40-s1', 'dot-f40-s42']) {
    t.throws(() => open(fixture(name), 'angular', 41), /not a valid angular f=41 \(176-byte nodes\) index: split node \d+'s hyperplane has norm 0\.\d+, not 1, .*\(a dot index of 40 dimensions, or a hamming index\?\)/, name);
    t.equal(open(fixture(name), 'dot', 40).getNItems(), 2000);
  }
});

t.test('every committed fixture still opens under its own metric', async (t) => {
  for (const fx of loadFixtures()) {
    const index = open(new Uint8Array(readFileSync(fx.indexPath)), fx.meta.metric, fx.meta.dimensions);
    t.equal(index.getNItems(), fx.meta.nItems, fx.name);
  }
});

t.test("nnserve's own files open for every float metric: high dimensions, holes, tiny and one-item indexes", async (t) => {
  for (const metric of ['angular', 'euclidean', 'manhattan', 'dot'] as const) {
    // 1024 dims: float32 rounding of a normalised 1024-vector must stay inside the tolerance.
    t.equal(open(build(metric, 1024, rows(300, 1024, 1), 3), metric, 1024).getNItems(), 300, `${metric} f=1024`);
    const ids = Array.from({ length: 200 }, (_, i) => 3 * i);
    t.equal(open(build(metric, 8, rows(200, 8, 2), 5, ids), metric, 8).getNHoles(), 398, `${metric} with holes`);
    t.equal(open(build(metric, 8, rows(4, 8, 3), 3), metric, 8).getNItems(), 4, `${metric}, root is a bucket`);
    t.equal(open(build(metric, 2, rows(1, 2, 4), 3, [9]), metric, 2).getNItems(), 10, `${metric}, one item with id >= K`);
  }
});

/** Split nodes of an index whose hyperplane is exactly zero (angular layout: v at word 3). */
function zeroPlanes(bytes: Uint8Array, f: number, nItems: number): number {
  const i32 = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const f32 = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const nw = 3 + f;
  let zero = 0;
  for (let i = nItems; i < bytes.byteLength / 4 / nw; i++) {
    if (i32[i * nw] <= f + 2) continue;
    let sq = 0;
    for (let z = 0; z < f; z++) sq += f32[i * nw + 3 + z] ** 2;
    if (sq === 0) zero++;
  }
  return zero;
}

t.test('duplicate items (zeroed hyperplanes from the random-split fallback) still open', async (t) => {
  const distinct = rows(10, 8, 5);
  const data = new Float32Array(200 * 8);
  for (let r = 0; r < 200; r++) data.set(distinct.subarray((r % 10) * 8, (r % 10 + 1) * 8), r * 8);
  const bytes = build('angular', 8, data, 5);
  t.ok(zeroPlanes(bytes, 8, 200) > 0, 'the file has zero hyperplanes');
  t.equal(open(bytes, 'angular', 8).getNItems(), 200);
  const annoys = fixture('ties-angular-f8');
  t.ok(zeroPlanes(annoys, 8, 200) > 0, "Annoy's ties fixture has zero hyperplanes");
  t.equal(open(annoys, 'angular', 8).getNItems(), 200);
});

t.test('a hyperplane that is not unit length opens when it separates its children as Annoy does', async (t) => {
  // Annoy cannot normalise a hyperplane whose float32 squares underflow (data below ~1e-19), and
  // leaves it short or imprecisely scaled; sides are still those of the stored plane. Scaling
  // every split's (a, v) of a euclidean file by 1e-30 keeps every margin's sign.
  const f = 4;
  const bytes = build('euclidean', f, rows(300, f, 6), 3).slice();
  const i32 = new Int32Array(bytes.buffer);
  const f32 = new Float32Array(bytes.buffer);
  const nw = 4 + f;
  let split = -1;
  for (let i = 300; i < bytes.byteLength / 4 / nw; i++) {
    if (i32[i * nw] <= f + 2) continue;
    f32[i * nw + 1] *= 1e-30;
    for (let z = 0; z < f; z++) f32[i * nw + 4 + z] *= 1e-30;
    if (split < 0) split = i;
  }
  t.equal(open(bytes, 'euclidean', f).getNItems(), 300);

  // Swapping one such split's children puts its items on the wrong sides: that is not Annoy's.
  const c0 = i32[split * nw + 2];
  i32[split * nw + 2] = i32[split * nw + 3];
  i32[split * nw + 3] = c0;
  t.throws(() => open(bytes, 'euclidean', f), new RegExp(`split node ${split}'s hyperplane has norm 1\\.0e-30, not 1, and puts item \\d+ on the other side from the child that holds it`));
});

if (!existsSync(annoyRefPath)) {
  t.skip(`no reference Annoy at ${annoyRefPath}: run test/reference/build.sh`, async () => {});
} else {
  t.test("Annoy's own files with hyperplanes it could not normalise, NaN, infinite or zero vectors still open", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'nnserve-hyperplane-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const annoyBuild = (metric: MetricName, f: number, data: Float32Array): Uint8Array => {
      const input = join(dir, 'rows.f32');
      const out = join(dir, 'index.ann');
      writeFileSync(input, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      execFileSync(annoyRefPath, ['build', metric, String(f), '5', '1', input, out]);
      return new Uint8Array(readFileSync(out));
    };
    const f = 8;
    // Near-duplicates that differ only in denormal components: angular hyperplanes of norm ~1e-45.
    const nearDuplicates = new Float32Array(1000 * f);
    for (let r = 0; r < 1000; r++) {
      nearDuplicates[r * f] = 1 + (r % 5);
      nearDuplicates[r * f + 1] = 1.4e-45 * (1 + ((r + 1) % 3));
    }
    const special = rows(1000, f, 8);
    for (let r = 0; r < 1000; r += 97) special.fill(r % 2 === 0 ? NaN : 0, r * f, (r + 1) * f);
    special[500 * f + 3] = Infinity;
    special[300 * f] = 3e38;
    const cases: Array<[string, Float32Array]> = [
      ['data at 1e-30 (unnormalisable hyperplanes)', rows(1000, f, 9, 1e-30)],
      ['data at 5e-23 (imprecisely normalised hyperplanes)', rows(1000, f, 10, 5e-23)],
      ['data at 1e-21', rows(1000, f, 11, 1e-21)],
      ['near-duplicates differing in denormals', nearDuplicates],
      ['NaN, infinite, huge and zero vectors', special],
    ];
    for (const metric of ['angular', 'euclidean', 'manhattan', 'dot'] as const) {
      for (const [what, data] of cases) {
        const bytes = annoyBuild(metric, f, data);
        t.equal(open(bytes, metric, f).getNItems(), 1000, `${metric}: ${what}`);
      }
    }
  });

  const runs = (command: string): boolean => {
    try {
      execFileSync(command, ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  const cc = ['cc', 'gcc'].find(runs);
  // Annoy's setup.py compiles with -O3 -ffast-math -fno-associative-math (linked without it: no FTZ).
  if (!runs('g++') || !existsSync(join(dirname(annoyRefPath), 'include', 'annoylib.h'))) {
    t.skip("Annoy with setup.py's flags: needs a C++ compiler and the reference header", async () => {});
  } else {
    t.test("Annoy's files built with its setup.py flags open: -ffast-math stores dot_factor -Infinity for data below ~1e-19", async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'nnserve-fast-math-'));
      t.teardown(() => rmSync(dir, { recursive: true, force: true }));
      const reference = join(dirname(annoyRefPath), '..');
      const object = join(dir, 'annoy-ref.o');
      execFileSync('g++', ['-std=c++17', '-O3', '-ffast-math', '-fno-associative-math', '-I', join(dirname(annoyRefPath), 'include'), '-c', join(reference, 'annoy-ref.cpp'), '-o', object]);
      execFileSync('g++', [object, '-o', join(dir, 'annoy-ref-fast-math')]);
      const input = join(dir, 'rows.f32');
      for (const metric of ['dot', 'angular'] as const) {
        for (const [f, n, scale] of [[1, 100, 1e-20], [8, 300, 1e-22]] as const) {
          writeFileSync(input, new Uint8Array(rows(n, f, 13, scale).buffer));
          execFileSync(join(dir, 'annoy-ref-fast-math'), ['build', metric, String(f), '5', '1', input, join(dir, 'index.ann')]);
          const bytes = new Uint8Array(readFileSync(join(dir, 'index.ann')));
          if (metric === 'dot') {
            // sqrtf of a subnormal, as rsqrt plus a Newton step: the file really holds -Infinity.
            t.equal(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)[3], -Infinity, `dot f=${f}: item 0's dot_factor`);
          }
          t.equal(open(bytes, metric, f).getNItems(), n, `${metric} f=${f}, data at ${scale}`);
        }
      }
    });
  }

  // Annoy run where subnormals flush to zero: a program linked with -ffast-math or -Ofast, or a
  // Python that loaded any library linked so (both set FTZ/DAZ for the whole process). Emulated by
  // preloading a constructor that sets MXCSR's FTZ and DAZ bits before annoy-ref's main.
  if (process.platform !== 'linux' || process.arch !== 'x64' || !cc) {
    t.skip('Annoy under FTZ/DAZ: needs x86-64 Linux and a C compiler for the LD_PRELOAD shim', async () => {});
  } else {
    t.test("Annoy's files built with subnormals flushed to zero (FTZ/DAZ) still open", async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'nnserve-hyperplane-ftz-'));
      t.teardown(() => rmSync(dir, { recursive: true, force: true }));
      writeFileSync(join(dir, 'ftz.c'), '#include <xmmintrin.h>\n__attribute__((constructor)) static void ftz(void) { _mm_setcsr(_mm_getcsr() | 0x8040); }\n');
      execFileSync(cc, ['-O2', '-shared', '-fPIC', '-o', join(dir, 'ftz.so'), join(dir, 'ftz.c')]);
      const annoyBuild = (metric: MetricName, f: number, data: Float32Array): Uint8Array => {
        const input = join(dir, 'rows.f32');
        const out = join(dir, 'index.ann');
        writeFileSync(input, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        execFileSync(annoyRefPath, ['build', metric, String(f), '5', '1', input, out], { env: { ...process.env, LD_PRELOAD: join(dir, 'ftz.so') } });
        return new Uint8Array(readFileSync(out));
      };
      // At 1e-20 the squares (1e-40) are subnormal: flushed, no hyperplane is normalised, and every
      // margin (products of 1e-20 by 1e-20) flushes to 0, so Annoy drew every side by a coin flip.
      // Each of these files was refused as "a hamming index?" before.
      for (const metric of ['angular', 'euclidean', 'manhattan', 'dot'] as const) {
        for (const [f, n, scale] of [[8, 300, 1e-20], [8, 300, 3e-21], [3, 100, 1e-20], [1, 50, 1e-20]] as const) {
          const bytes = annoyBuild(metric, f, rows(n, f, 12, scale));
          t.equal(open(bytes, metric, f).getNItems(), n, `${metric} f=${f}, data at ${scale}`);
        }
      }
    });
  }
}
