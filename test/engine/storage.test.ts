import t from 'tap';
import { allocateStorage, growStorage, storageBytes } from '../../src/annoy/storage.js';

function filled(length: number, growable: boolean, wasm = true) {
  const s = allocateStorage(length, { growable, wasm });
  const bytes = storageBytes(s);
  for (let i = 0; i < length; i++) bytes[i] = i % 251;
  return s;
}

function keeps(bytes: Uint8Array, length: number): boolean {
  for (let i = 0; i < length; i++) if (bytes[i] !== i % 251) return false;
  return true;
}

t.test('a growable WebAssembly storage grows in place and keeps its bytes', async (t) => {
  const s = filled(100_000, true);
  const grown = growStorage(s, 5_000_000);
  t.equal(grown.memory, s.memory, 'same memory');
  t.equal(grown.byteOffset, s.byteOffset);
  t.equal(grown.byteLength, 5_000_000);
  const bytes = storageBytes(grown);
  t.ok(keeps(bytes, 100_000), 'old bytes kept');
  t.equal(bytes[4_999_999], 0, 'new bytes are zero');
});

t.test('a fixed-size storage is copied into a larger one', async (t) => {
  for (const wasm of [true, false]) {
    const s = filled(100_000, false, wasm);
    const grown = growStorage(s, 3_000_000);
    t.equal(grown.byteLength, 3_000_000);
    t.ok(keeps(storageBytes(grown), 100_000), `old bytes kept (wasm ${wasm})`);
    t.equal(storageBytes(grown)[2_999_999], 0);
  }
});

t.test('shrinking or keeping the length never copies', async (t) => {
  const s = filled(100_000, false);
  const same = growStorage(s, 50_000);
  t.equal(same.buffer, s.buffer);
  t.equal(same.byteLength, 50_000);
});
