/** The random source tree building draws from (Annoy's `Random` policy). */
export interface Random {
  /** A uniform 32-bit unsigned integer. */
  next(): number;
  /** 0 or 1. */
  flip(): number;
  /** Uniform-ish integer in [0, n), as Annoy's `kiss() % n`. */
  index(n: number): number;
}

const TWO_32 = 4294967296;

/**
 * A 32-bit KISS generator (linear congruential + xorshift + multiply-with-carry), the family Annoy
 * uses. Plain 32-bit arithmetic keeps it fast in JS; Annoy's byte-identical output is not a goal
 * (see annoy-format.md), seedability and quality are.
 */
export class Kiss32Random implements Random {
  private x: number;
  private y = 362436000;
  private z = 521288629;
  private c = 7654321;

  constructor(seed = 123456789) {
    this.x = seed >>> 0 || 123456789;
  }

  next(): number {
    this.x = (Math.imul(69069, this.x) + 12345) >>> 0;
    let y = this.y;
    y ^= y << 5;
    y ^= y >>> 7;
    y ^= y << 22;
    this.y = y >>> 0;
    // 698769069 * z + c needs 62 bits: split z so every partial product is exact in a double.
    const a = 698769069;
    const z = this.z;
    const low = a * (z & 0xffff) + this.c;
    const high = a * (z >>> 16);
    let lo = (high % 65536) * 65536 + (low % TWO_32);
    const carry = Math.floor(lo / TWO_32);
    lo -= carry * TWO_32;
    this.c = Math.floor(high / 65536) + Math.floor(low / TWO_32) + carry;
    this.z = lo;
    return (this.x + this.y + this.z) >>> 0;
  }

  flip(): number {
    return this.next() & 1;
  }

  index(n: number): number {
    return n > 0 ? this.next() % n : 0;
  }
}
