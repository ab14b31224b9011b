import { InputError } from './vector-set.js';

/**
 * Collects rows of unknown count into one growing Float32Array, checking each row's length and
 * values as it arrives so the error can name the row (1-based, as a user counts lines).
 */
export class RowBuffer {
  private data = new Float32Array(1024);
  private length = 0;
  dimensions = 0;
  rows = 0;

  constructor(private readonly source: string) {}

  /** `where` is how the error message names this row, e.g. "line 7". */
  push(values: ArrayLike<unknown>, where: string): void {
    const f = values.length;
    if (this.rows === 0) {
      if (f === 0) throw new InputError(`${this.source}: ${where}: empty vector`);
      this.dimensions = f;
    } else if (f !== this.dimensions) {
      throw new InputError(`${this.source}: ${where}: vector has ${f} values, earlier rows have ${this.dimensions}`);
    }
    if (this.length + f > this.data.length) this.grow(this.length + f);
    const data = this.data;
    for (let j = 0; j < f; j++) {
      const v = values[j];
      if (typeof v !== 'number') throw new InputError(`${this.source}: ${where}: value ${j + 1} is ${describe(v)}; vectors must hold finite numbers`);
      const problem = float32Problem(v);
      if (problem !== null) throw new InputError(`${this.source}: ${where}: value ${j + 1} is ${problem}`);
      data[this.length + j] = v;
    }
    this.length += f;
    this.rows++;
  }

  finish(): Float32Array {
    if (this.rows === 0) throw new InputError(`${this.source}: no vectors found`);
    return this.data.slice(0, this.length);
  }

  private grow(needed: number): void {
    let size = this.data.length * 2;
    while (size < needed) size *= 2;
    const next = new Float32Array(size);
    next.set(this.data.subarray(0, this.length));
    this.data = next;
  }
}

/**
 * Why `v` cannot be an Annoy value, or null when it can. Annoy stores float32: a double beyond
 * its range (1e39) would silently become Infinity, so it is refused as itself, not as Infinity.
 */
export function float32Problem(v: number): string | null {
  if (!Number.isFinite(v)) return `${v}; vectors must hold finite numbers`;
  if (!Number.isFinite(Math.fround(v))) return `${v}, outside the 32-bit float range (±3.4e38) that Annoy stores`;
  return null;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return `the text ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  return v === null ? 'null' : typeof v;
}
