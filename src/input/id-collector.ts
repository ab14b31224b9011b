import { InputError } from './vector-set.js';

/** Annoy item ids are int32. */
const MAX_ITEM_ID = 2 ** 31 - 1;

/**
 * Gathers one id per row and applies the id rules once for every format: integers are item ids
 * (non-negative int32), anything else is a name; a file mixing both is all names (integers
 * become their decimal text). Names may not be empty or hold line breaks, because the ids file
 * stores one per line. Duplicates are rejected, including those only visible after the mix rule
 * (`5` and `"5"`).
 */
export class IdCollector {
  private readonly ints: number[] = [];
  private readonly strings: string[] = [];
  /** Row of each id, in input order, as (kind, index) so the mixed case can restore order. */
  private readonly order: Array<number | string> = [];
  private readonly seenInts = new Map<number, string>();
  private readonly seenStrings = new Map<string, string>();

  constructor(private readonly source: string) {}

  add(id: unknown, where: string): void {
    if (typeof id === 'number') {
      if (!Number.isInteger(id) || id < 0 || id > MAX_ITEM_ID) {
        throw new InputError(`${this.source}: ${where}: id ${id} is not allowed; integer ids must be in 0..${MAX_ITEM_ID} (use a string for other names)`);
      }
      const first = this.seenInts.get(id);
      if (first !== undefined) throw new InputError(`${this.source}: ${where}: duplicate id ${id} (first seen at ${first})`);
      this.seenInts.set(id, where);
      this.ints.push(id);
      this.order.push(id);
      return;
    }
    if (typeof id === 'string') {
      if (id.length === 0) throw new InputError(`${this.source}: ${where}: empty id`);
      if (id.includes('\n') || id.includes('\r')) throw new InputError(`${this.source}: ${where}: id contains a line break`);
      // Half of a UTF-16 pair (a JS string cut inside an emoji) is written to the UTF-8 ids file as
      // U+FFFD: the id could not be looked up, and two such ids read back as one duplicate.
      if (/\p{Cs}/u.test(id)) throw new InputError(`${this.source}: ${where}: id ${JSON.stringify(id)} holds half of a UTF-16 surrogate pair, which UTF-8 cannot store`);
      // Item 0's id starts the ids file, where every reader drops a byte-order mark: the index was
      // built, then refused by serve, query and inspect as not matching its own idsSha256.
      if (this.order.length === 0 && id.startsWith('\uFEFF')) {
        throw new InputError(`${this.source}: ${where}: the first id starts with a byte-order mark (U+FEFF), which the ids file cannot keep`);
      }
      const first = this.seenStrings.get(id);
      if (first !== undefined) throw new InputError(`${this.source}: ${where}: duplicate id ${JSON.stringify(id)} (first seen at ${first})`);
      this.seenStrings.set(id, where);
      this.strings.push(id);
      this.order.push(id);
      return;
    }
    throw new InputError(`${this.source}: ${where}: id must be an integer or a string (got ${id === null ? 'null' : typeof id})`);
  }

  get count(): number {
    return this.order.length;
  }

  finish(): number[] | string[] {
    if (this.strings.length === 0) return this.ints;
    if (this.ints.length === 0) return this.strings;
    for (const [id, where] of this.seenInts) {
      const clash = this.seenStrings.get(String(id));
      if (clash !== undefined) {
        throw new InputError(`${this.source}: ${where}: id ${id} and the id "${id}" at ${clash} are the same name once mixed ids are read as strings`);
      }
    }
    return this.order.map(String);
  }
}
