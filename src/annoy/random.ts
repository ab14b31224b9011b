/** The random source tree building draws from (Annoy's `Random` policy). */
export interface Random {
  /** A uniform 32-bit unsigned integer. */
  next(): number;
  /** 0 or 1. */
  flip(): number;
  /** Uniform-ish integer in [0, n), as Annoy's `kiss() % n`. */
  index(n: number): number;
}

/**
 * A KISS generator (xorshift + add-with-carry + Weyl sequence; Jones' JKISS32), the family Annoy
 * draws from. All-32-bit arithmetic keeps a draw to a few nanoseconds in JS; builds call it about a
 * million times per tree. Annoy's byte-identical output is not a goal (see annoy-format.md),
 * seedability and quality are.
 */
export class Kiss32Random implements Random {
  private x: number;
  private y = 987654321;
  private z = 43219876;
  private c = 6543217;
  private w = 21987643;

  constructor(seed = 123456789) {
    this.x = seed | 0;
  }

  next(): number {
    let y = this.y;
    y ^= y << 5;
    y ^= y >>> 7;
    y ^= y << 22;
    this.y = y;
    const t = (this.z + this.w + this.c) | 0;
    this.z = this.w;
    this.c = t < 0 ? 1 : 0;
    this.w = t & 2147483647;
    this.x = (this.x + 1411392427) | 0;
    return (this.x + this.y + this.w) >>> 0;
  }

  flip(): number {
    return this.next() & 1;
  }

  index(n: number): number {
    return n > 0 ? this.next() % n : 0;
  }
}

/**
 * mulberry32: a uniform float in [0, 1) from 32-bit integer maths only, so generated data (the
 * demo index, test vectors) is identical on every platform.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
