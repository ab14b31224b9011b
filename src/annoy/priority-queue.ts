/**
 * Max-heap of (priority, node) pairs ordered like C++'s std::priority_queue<pair<T, S>>: higher
 * priority first, ties to the larger node index. Parallel typed arrays, reused across queries.
 */
export class NodePriorityQueue {
  private priorities: Float64Array;
  private nodes: Int32Array;
  size = 0;

  constructor(capacity = 256) {
    this.priorities = new Float64Array(capacity);
    this.nodes = new Int32Array(capacity);
  }

  clear(): void {
    this.size = 0;
  }

  push(priority: number, node: number): void {
    if (this.size === this.nodes.length) this.grow();
    const p = this.priorities;
    const n = this.nodes;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pp = p[parent];
      if (pp > priority || (pp === priority && n[parent] > node)) break;
      p[i] = pp;
      n[i] = n[parent];
      i = parent;
    }
    p[i] = priority;
    n[i] = node;
  }

  /** Priority of the top entry; call before pop(). */
  topPriority(): number {
    return this.priorities[0];
  }

  /** Node of the top entry, left in place. */
  topNode(): number {
    return this.nodes[0];
  }

  /** Removes the top entry and returns its node. */
  pop(): number {
    const top = this.nodes[0];
    const size = --this.size;
    if (size > 0) this.siftDown(this.priorities[size], this.nodes[size]);
    return top;
  }

  /** Replaces the top entry by (priority, node): a pop and a push in one pass down the heap. */
  replaceTop(priority: number, node: number): void {
    this.siftDown(priority, node);
  }

  /** Fills the hole at the root with (priority, node), moving the larger child up level by level. */
  private siftDown(priority: number, node: number): void {
    const p = this.priorities;
    const n = this.nodes;
    const size = this.size;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      const right = child + 1;
      if (right < size && (p[right] > p[child] || (p[right] === p[child] && n[right] > n[child]))) child = right;
      if (p[child] < priority || (p[child] === priority && n[child] < node)) break;
      p[i] = p[child];
      n[i] = n[child];
      i = child;
    }
    p[i] = priority;
    n[i] = node;
  }

  private grow(): void {
    const priorities = new Float64Array(this.priorities.length * 2);
    priorities.set(this.priorities);
    const nodes = new Int32Array(this.nodes.length * 2);
    nodes.set(this.nodes);
    this.priorities = priorities;
    this.nodes = nodes;
  }
}
