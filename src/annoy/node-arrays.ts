import type { IndexStorage } from './storage.js';

/**
 * Word views over a whole storage buffer. Every Annoy node is a whole number of 32-bit words, so
 * the engine addresses everything by word index (`byte / 4`), which stays exact past 4 GiB.
 */
export interface NodeArrays {
  readonly i32: Int32Array;
  readonly f32: Float32Array;
  readonly u32: Uint32Array;
}

export function nodeArrays(storage: IndexStorage): NodeArrays {
  const words = Math.floor(storage.buffer.byteLength / 4);
  return {
    i32: new Int32Array(storage.buffer, 0, words),
    f32: new Float32Array(storage.buffer, 0, words),
    u32: new Uint32Array(storage.buffer, 0, words),
  };
}
