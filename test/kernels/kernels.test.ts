import t from 'tap';
import { allocateStorage, storageFromBytes, SCRATCH_SLOTS, type IndexStorage } from '../../src/annoy/storage.js';
import type { BatchOp, VectorKernels } from '../../src/annoy/kernels/kernels.js';
import { createJsKernels } from '../../src/annoy/kernels/js-kernels.js';
import { createWasmKernels } from '../../src/annoy/kernels/wasm-kernels.js';
import { wasmKernelsSupported } from '../../src/annoy/kernels/wasm-module.js';
import { createKernels, GATHER_MIN_DIMENSIONS } from '../../src/annoy/kernels/select-kernels.js';
import { createGatherKernels } from '../../src/annoy/kernels/gather-kernels.js';
import { close, fillNodes, randomVector, reference, rng, vectorAt } from './helpers.js';

const DIMS = [1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 40, 63, 64, 100, 784, 1000];
const OPS: readonly BatchOp[] = ['dot', 'l2', 'l1'];
const NODES = 37;

interface Fixture {
  storage: IndexStorage;
  f: number;
  nodeBytes: number;
  vOffset: number;
  vecByte(id: number): number;
}

/** Node records with a header before the vector and a stride that is not a multiple of 16, so SIMD loads are unaligned. */
function fixture(f: number, seed: number, storage?: IndexStorage, nodes = NODES): Fixture {
  const vOffset = 12;
  const nodeBytes = vOffset + f * 4 + 4 * (f % 3);
  const s = storage ?? allocateStorage(nodes * nodeBytes);
  fillNodes(s.buffer, s.byteOffset, nodes, nodeBytes, vOffset, f, rng(seed));
  return { storage: s, f, nodeBytes, vOffset, vecByte: (id) => s.byteOffset + id * nodeBytes + vOffset };
}

function randomIds(count: number, random: () => number, nodes = NODES): Int32Array {
  const ids = new Int32Array(count + 3); // longer than count: the tail must be ignored
  for (let k = 0; k < ids.length; k++) ids[k] = Math.floor(random() * nodes);
  return ids;
}

/** Compares every kernel entry point of `k` against the naive reference; returns failure descriptions. */
function checkKernels(k: VectorKernels, fx: Fixture, seed: number, counts: readonly number[]): string[] {
  const { storage, f, nodeBytes, vOffset } = fx;
  const random = rng(seed);
  const buffer = storage.buffer;
  const failures: string[] = [];
  const q = randomVector(f, random);
  const refs = OPS.map((op) => Array.from({ length: NODES }, (_, id) => reference(op, q, vectorAt(buffer, fx.vecByte(id), f))));
  const session = k.open(q);
  q.fill(0); // the session must hold its own copy

  for (let id = 0; id < NODES && failures.length < 5; id++) {
    const got = session.dot(fx.vecByte(id));
    if (!close(got, refs[0][id])) failures.push(`${k.kind} f=${f} dot(id ${id}) = ${got}, want ${refs[0][id][0]}`);
    const other = (id * 7 + 3) % NODES;
    const a = vectorAt(buffer, fx.vecByte(id), f);
    const b = vectorAt(buffer, fx.vecByte(other), f);
    const stored: Array<[BatchOp, number]> = [
      ['dot', k.dotStored(fx.vecByte(id), fx.vecByte(other))],
      ['l2', k.l2Stored(fx.vecByte(id), fx.vecByte(other))],
      ['l1', k.l1Stored(fx.vecByte(id), fx.vecByte(other))],
    ];
    for (const [op, value] of stored) {
      const want = reference(op, a, b);
      if (!close(value, want)) failures.push(`${k.kind} f=${f} ${op}Stored(${id}, ${other}) = ${value}, want ${want[0]}`);
    }
  }

  for (const count of counts) {
    const ids = randomIds(count, random);
    const out = new Float64Array(count + 3).fill(-12345);
    OPS.forEach((op, o) => {
      session.batch(op, ids, 0, count, storage.byteOffset, nodeBytes, vOffset, out, Infinity);
      for (let i = 0; i < count && failures.length < 5; i++) {
        if (!close(out[i], refs[o][ids[i]])) failures.push(`${k.kind} f=${f} batch ${op} count=${count} [${i}] id ${ids[i]} = ${out[i]}, want ${refs[o][ids[i]][0]}`);
      }
      if (out[count] !== -12345) failures.push(`${k.kind} f=${f} batch ${op} count=${count} wrote past count`);
    });
  }
  session.release();
  return failures;
}

t.test('WebAssembly SIMD is available on this runtime', async (t) => {
  t.ok(wasmKernelsSupported());
});

t.test('WASM (in place and gathering) and JS kernels match a naive reference', async (t) => {
  for (const f of DIMS) {
    const fx = fixture(f, 1000 + f);
    // One batch count exceeds a scratch slot's chunk (≈ 5,300-10,900 ids depending on f).
    const big = f <= 100 ? 23000 : 12000;
    const counts = [0, 1, 2, 57, big];
    const wasm = createWasmKernels(fx.storage, f);
    const js = createJsKernels(fx.storage, f);
    t.equal(wasm.kind, 'wasm-simd');
    t.same(checkKernels(wasm, fx, f, counts), [], `wasm f=${f}`);
    t.same(checkKernels(js, fx, f, counts), [], `js f=${f}`);
    t.same(checkKernels(createGatherKernels(fx.storage, f), fx, f, counts), [], `gather f=${f}`);
  }
});

t.test('a bounded l2/l1 batch gives the exact result, or +Infinity where that result is above the bound', async (t) => {
  for (const f of [40, 64, 100, 784]) {
    const nodes = 400;
    const fx = fixture(f, 3000 + f, undefined, nodes);
    const random = rng(f);
    const q = randomVector(f, random);
    const ids = randomIds(nodes - 3, random, nodes);
    for (const op of ['l2', 'l1'] as const) {
      for (const k of [createWasmKernels(fx.storage, f), createGatherKernels(fx.storage, f), createJsKernels(fx.storage, f)]) {
        const session = k.open(q);
        const from = 5;
        const exact = new Float64Array(ids.length);
        session.batch(op, ids, 0, ids.length, fx.storage.byteOffset, fx.nodeBytes, fx.vOffset, exact, Infinity);
        session.release();
        const sorted = [...exact].sort((x, y) => x - y);
        // Half the 10th smallest result: almost every item lies above, most by enough to stop early.
        // The median and the 90th percentile leave groups of four with one to three survivors, which
        // the WASM kernel finishes one by one from where the group stopped.
        const bounds = { tight: sorted[10] / 2, median: sorted[ids.length >> 1], loose: sorted[Math.floor(ids.length * 0.9)] };
        for (const [name, raw] of Object.entries(bounds)) {
          const bound = Math.fround(raw);
          const out = new Float64Array(ids.length).fill(-1);
          const again = k.open(q);
          again.batch(op, ids, from, ids.length, fx.storage.byteOffset, fx.nodeBytes, fx.vOffset, out, bound);
          again.release();
          const wrong: string[] = [];
          let pruned = 0;
          for (let i = 0; i < ids.length; i++) {
            if (i < from) {
              if (out[i] !== -1) wrong.push(`[${i}] before from was written`);
            } else if (out[i] === Infinity && exact[i] > bound) {
              pruned++;
            } else if (out[i] !== exact[i]) wrong.push(`[${i}] = ${out[i]}, exact ${exact[i]}, bound ${bound}`);
          }
          t.same(wrong.slice(0, 5), [], `${k.kind} ${op} f=${f} ${name} bound`);
          if (name !== 'tight') continue;
          // Only the WASM kernels stop early, and only where a 256-byte check fits (f >= 64).
          if (k.kind !== 'js' && f >= 64) t.ok(pruned > ids.length / 4, `${k.kind} ${op} f=${f} skipped ${pruned} of ${ids.length - from}`);
          else t.equal(pruned, 0, `${k.kind} ${op} f=${f} computes everything`);
        }
      }
    }
  }
});

t.test('all scratch slots busy: the next session runs the gathering kernels, with the same bits as a slot', async (t) => {
  const f = 40;
  const fx = fixture(f, 7);
  const flags = new Int32Array(fx.storage.buffer, 0, SCRATCH_SLOTS);
  const k = createWasmKernels(fx.storage, f);
  const random = rng(99);
  const queries = Array.from({ length: SCRATCH_SLOTS + 1 }, () => randomVector(f, random));
  const sessions = queries.map((q) => k.open(q));
  t.equal(flags.reduce((a, b) => a + b, 0), SCRATCH_SLOTS, 'every slot claimed once');

  // Each session, slot-backed or not, must still see its own query.
  const ids = Int32Array.from({ length: NODES }, (_, i) => i);
  const out = new Float64Array(NODES);
  let bad = 0;
  sessions.forEach((s, n) => {
    s.batch('l2', ids, 0, NODES, fx.storage.byteOffset, fx.nodeBytes, fx.vOffset, out, Infinity);
    for (let id = 0; id < NODES; id++) {
      if (!close(out[id], reference('l2', queries[n], vectorAt(fx.storage.buffer, fx.vecByte(id), f)))) bad++;
    }
  });
  t.equal(bad, 0, 'no session sees another one\'s query');

  const fallback = sessions[SCRATCH_SLOTS];
  const overflowOut = new Map<BatchOp, Float64Array>();
  for (const op of ['dot', 'l2', 'l1'] as const) {
    const o = new Float64Array(NODES);
    fallback.batch(op, ids, 0, NODES, fx.storage.byteOffset, fx.nodeBytes, fx.vOffset, o, Infinity);
    overflowOut.set(op, o);
  }
  const overflowDot = fallback.dot(fx.vecByte(3));
  fallback.release(); // owns no slot
  t.equal(flags.reduce((a, b) => a + b, 0), SCRATCH_SLOTS, 'releasing the fallback session frees nothing');
  const first = sessions[0];
  first.release();
  t.equal(flags.reduce((a, b) => a + b, 0), SCRATCH_SLOTS - 1, 'releasing a slot session frees its flag');
  first.release();
  t.equal(flags.reduce((a, b) => a + b, 0), SCRATCH_SLOTS - 1, 'a second release is harmless');
  t.throws(() => first.dot(fx.vecByte(0)), /after release/);

  const again = k.open(queries[0]);
  t.equal(flags.reduce((a, b) => a + b, 0), SCRATCH_SLOTS, 'a new session reuses the freed slot');
  again.release();
  for (const s of sessions) s.release();
  t.equal(flags.reduce((a, b) => a + b, 0), 0, 'all slots free at the end');

  // The same query in a slot: answers must not depend on whether the slots were all taken.
  const inSlot = k.open(queries[SCRATCH_SLOTS]);
  for (const [op, expected] of overflowOut) {
    const o = new Float64Array(NODES);
    inSlot.batch(op, ids, 0, NODES, fx.storage.byteOffset, fx.nodeBytes, fx.vOffset, o, Infinity);
    t.ok(o.every((x, i) => Object.is(x, expected[i])), `${op}: the overflow session gave the slot's bits`);
  }
  t.ok(Object.is(inSlot.dot(fx.vecByte(3)), overflowDot), 'dot: the same bits');
  inSlot.release();
});

t.test('a query too large for a scratch slot uses the JS path', async (t) => {
  for (const [f, claims] of [[16385, 0], [16384, 1]] as const) {
    const fx = fixture(f, f, undefined, 3);
    const flags = new Int32Array(fx.storage.buffer, 0, SCRATCH_SLOTS);
    const k = createWasmKernels(fx.storage, f);
    const q = randomVector(f, rng(5));
    const s = k.open(q);
    t.equal(flags.reduce((a, b) => a + b, 0), claims, `f=${f} claims ${claims} slot(s)`);
    const ids = Int32Array.of(2, 0, 1, 2);
    const out = new Float64Array(4);
    s.batch('dot', ids, 0, 4, fx.storage.byteOffset, fx.nodeBytes, fx.vOffset, out, Infinity);
    const ok = Array.from(ids).every((id, i) => close(out[i], reference('dot', q, vectorAt(fx.storage.buffer, fx.vecByte(id), f))));
    t.ok(ok, `f=${f} batch correct`);
    t.ok(close(s.dot(fx.vecByte(1)), reference('dot', q, vectorAt(fx.storage.buffer, fx.vecByte(1), f))), `f=${f} dot correct`);
    s.release();
    t.equal(flags.reduce((a, b) => a + b, 0), 0);
  }
});

t.test('a query of the wrong length is rejected', async (t) => {
  const fx = fixture(8, 3);
  t.throws(() => createWasmKernels(fx.storage, 8).open(new Float32Array(7)), RangeError);
  t.throws(() => createJsKernels(fx.storage, 8).open(new Float32Array(9)), RangeError);
});

t.test('createKernels: in place for WebAssembly-backed storage, gathering for long vectors elsewhere, else JS', async (t) => {
  t.equal(createKernels(allocateStorage(1024), 4).kind, 'wasm-simd');
  t.equal(createKernels(allocateStorage(1024), 16385).kind, 'wasm-simd');
  t.equal(createKernels(allocateStorage(1024, { wasm: false }), 4).kind, 'js');
  t.equal(createKernels(allocateStorage(1024, { shared: false }), 4).kind, 'js');
  t.equal(createKernels(storageFromBytes(new Uint8Array(1024)), 4).kind, 'js');
  t.equal(createKernels(allocateStorage(1024, { wasm: false }), GATHER_MIN_DIMENSIONS - 1).kind, 'js');
  t.equal(createKernels(allocateStorage(1024, { wasm: false }), GATHER_MIN_DIMENSIONS).kind, 'wasm-simd-gather');
  t.equal(createKernels(storageFromBytes(new Uint8Array(1024)), 784).kind, 'wasm-simd-gather');
  t.equal(createKernels(allocateStorage(1024, { wasm: false }), 16385).kind, 'js', 'longer than the gather scratch holds');
  const saved = process.env.NNSERVE_KERNELS;
  try {
    process.env.NNSERVE_KERNELS = 'js';
    t.equal(createKernels(allocateStorage(1024), 4).kind, 'js', 'NNSERVE_KERNELS=js forces JS');
    t.equal(createKernels(allocateStorage(1024, { wasm: false }), 784).kind, 'js', 'NNSERVE_KERNELS=js forces JS');
    process.env.NNSERVE_KERNELS = 'gather';
    t.equal(createKernels(allocateStorage(1024, { wasm: false }), 4).kind, 'wasm-simd-gather', 'NNSERVE_KERNELS=gather forces gathering');
    t.equal(createKernels(allocateStorage(1024), 4).kind, 'wasm-simd', 'in place wins where it can');
  } finally {
    if (saved === undefined) delete process.env.NNSERVE_KERNELS;
    else process.env.NNSERVE_KERNELS = saved;
  }
});

t.test('addresses above 2^31 (WASM) and 2^32 (JS, gathering) are handled as unsigned', async (t) => {
  const f = 17;
  const nodeBytes = 12 + f * 4;
  const nodes = 8;
  // Untouched pages of a fresh memory cost no RAM: only the few vectors written are backed.
  const high = 2 ** 31 + 4096;
  const wasmStorage = allocateStorage(high + nodes * nodeBytes);
  const jsHigh = 2 ** 32 + 4096;
  const jsStorage = allocateStorage(jsHigh + nodes * nodeBytes, { wasm: false });
  fillNodes(wasmStorage.buffer, wasmStorage.byteOffset + high, nodes, nodeBytes, 12, f, rng(high));
  fillNodes(jsStorage.buffer, jsStorage.byteOffset + jsHigh, nodes, nodeBytes, 12, f, rng(jsHigh));
  const cases = [[wasmStorage, high, createKernels(wasmStorage, f)], [jsStorage, jsHigh, createKernels(jsStorage, f)], [jsStorage, jsHigh, createGatherKernels(jsStorage, f)]] as const;
  for (const [storage, base, k] of cases) {
    const nodeBase = storage.byteOffset + base;
    const q = randomVector(f, rng(1));
    const s = k.open(q);
    const ids = Int32Array.of(7, 0, 3, 3, 5);
    const out = new Float64Array(ids.length);
    let bad = 0;
    for (const op of OPS) {
      // Absolute node base above the limit, and a low base with ids reaching above it.
      s.batch(op, ids, 0, ids.length, nodeBase, nodeBytes, 12, out, Infinity);
      ids.forEach((id, i) => { if (!close(out[i], reference(op, q, vectorAt(storage.buffer, nodeBase + id * nodeBytes + 12, f)))) bad++; });
      const lowBase = nodeBase - 1000 * nodeBytes;
      const shifted = ids.map((id) => id + 1000);
      s.batch(op, shifted, 0, shifted.length, lowBase, nodeBytes, 12, out, Infinity);
      ids.forEach((id, i) => { if (!close(out[i], reference(op, q, vectorAt(storage.buffer, nodeBase + id * nodeBytes + 12, f)))) bad++; });
    }
    const a = nodeBase + 12;
    const b = nodeBase + 5 * nodeBytes + 12;
    const va = vectorAt(storage.buffer, a, f);
    const vb = vectorAt(storage.buffer, b, f);
    if (!close(k.l2Stored(a, b), reference('l2', va, vb))) bad++;
    if (!close(k.dotStored(a, b), reference('dot', va, vb))) bad++;
    if (!close(k.l1Stored(a, b), reference('l1', va, vb))) bad++;
    if (!close(s.dot(b), reference('dot', q, vb))) bad++;
    s.release();
    t.equal(bad, 0, `${k.kind} at ${base}`);
  }
});
