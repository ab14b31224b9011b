/**
 * The item of each external id, as an open-addressing hash table of item numbers in shared memory.
 * It is built on the loader thread and crosses to the event loop without a copy: a Map of a million
 * ids took 2 s to build here, on the event loop, at every swap, stalling every request meanwhile.
 */

/** FNV-1a over UTF-16 code units: cheap, and spreads ids that differ only in their last digits. */
function hashId(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * Slots for `ids` (item + 1; 0 = empty), at most half full so a probe ends soon. `ids` must hold
 * no id twice (the loader refuses such files before this).
 */
export function idLookupTable(ids: readonly string[]): Int32Array {
  let size = 2;
  while (size < ids.length * 2) size *= 2;
  const table = new Int32Array(new SharedArrayBuffer(size * 4));
  const mask = size - 1;
  for (let item = 0; item < ids.length; item++) {
    let slot = hashId(ids[item]) & mask;
    while (table[slot] !== 0) slot = (slot + 1) & mask;
    table[slot] = item + 1;
  }
  return table;
}

/** Looks ids up in a table idLookupTable built from the same ids. */
export class IdLookup {
  private readonly mask: number;

  constructor(
    private readonly ids: readonly string[],
    private readonly table: Int32Array,
  ) {
    this.mask = table.length - 1;
  }

  /** The item whose id is `id`, or undefined. */
  get(id: string): number | undefined {
    for (let slot = hashId(id) & this.mask; ; slot = (slot + 1) & this.mask) {
      const entry = this.table[slot];
      if (entry === 0) return undefined;
      if (this.ids[entry - 1] === id) return entry - 1;
    }
  }
}
