/**
 * The `p` best candidates seen so far, in Annoy's order: ascending distance, ties to the smaller
 * id. Holds positions into the caller's parallel (distances, ids) arrays. Candidates arrive in
 * chunks so the search can ask for the current bound between chunks.
 *
 * Insertion into a sorted list: after the first few chunks a candidate rarely beats the current
 * worst, so offering m candidates costs ~O(m) for the small n users ask for.
 */
export class TopK {
  /** Above this many results, sort everything once instead of inserting. */
  static readonly MAX_INSERTION = 256;

  private slots = new Int32Array(TopK.MAX_INSERTION);
  private capacity = 0;
  private filled = 0;

  reset(p: number): void {
    if (p > TopK.MAX_INSERTION) throw new RangeError(`TopK holds at most ${TopK.MAX_INSERTION} results, asked for ${p}`);
    this.capacity = p;
    this.filled = 0;
  }

  /** The distance a candidate must not exceed to enter; Infinity until `p` candidates are in. */
  bound(d: Float64Array): number {
    return this.capacity > 0 && this.filled === this.capacity ? d[this.slots[this.capacity - 1]] : Infinity;
  }

  /** Offers candidates `from..to` of the parallel arrays. */
  offer(d: Float64Array, ids: Int32Array, from: number, to: number): void {
    const top = this.slots;
    const p = this.capacity;
    if (p === 0) return;
    let filled = this.filled;
    for (let k = from; k < to; k++) {
      if (filled === p) {
        if (!before(d, ids, k, top[p - 1])) continue;
        filled--;
      }
      let pos = filled++;
      while (pos > 0 && before(d, ids, k, top[pos - 1])) {
        top[pos] = top[pos - 1];
        pos--;
      }
      top[pos] = k;
    }
    this.filled = filled;
  }

  /** The positions of the best candidates, best first (a view, valid until the next reset). */
  positions(): Int32Array {
    return this.slots.subarray(0, this.filled);
  }
}

/** Positions of the `p` best of d[0..m) in Annoy's order, by one full sort (for large p). */
export function sortBest(d: Float64Array, ids: Int32Array, m: number, p: number): Int32Array {
  const all = Int32Array.from({ length: m }, (_, k) => k);
  all.sort((a, b) => d[a] - d[b] || ids[a] - ids[b]);
  return all.subarray(0, p);
}

function before(d: Float64Array, ids: Int32Array, a: number, b: number): boolean {
  return d[a] < d[b] || (d[a] === d[b] && ids[a] < ids[b]);
}
