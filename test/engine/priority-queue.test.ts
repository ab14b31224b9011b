import t from 'tap';
import { NodePriorityQueue } from '../../src/annoy/priority-queue.js';
import { Kiss32Random } from '../../src/annoy/random.js';

t.test('pops in std::priority_queue<pair<float, int>> order: priority, then larger node', async (t) => {
  const random = new Kiss32Random(3);
  const pq = new NodePriorityQueue(2);
  const pairs: Array<[number, number]> = [];
  for (let i = 0; i < 2000; i++) {
    const pair: [number, number] = [random.index(50) - 25, random.index(500)];
    pairs.push(pair);
    pq.push(pair[0], pair[1]);
  }
  pairs.sort((a, b) => b[0] - a[0] || b[1] - a[1]);
  const popped: Array<[number, number]> = [];
  while (pq.size > 0) {
    const p = pq.topPriority();
    popped.push([p, pq.pop()]);
  }
  t.same(popped, pairs);
});

t.test('replaceTop is a pop followed by a push', async (t) => {
  const random = new Kiss32Random(5);
  const fast = new NodePriorityQueue(2);
  const slow = new NodePriorityQueue(2);
  const popped: Array<[number[], number[]]> = [];
  for (let step = 0; step < 5000; step++) {
    const priority = random.index(40) - 20;
    const node = random.index(300);
    if (fast.size > 0 && random.flip() === 1) {
      const a = [fast.topPriority(), fast.topNode()];
      fast.replaceTop(priority, node);
      const b = [slow.topPriority(), slow.pop()];
      slow.push(priority, node);
      popped.push([a, b]);
    } else {
      fast.push(priority, node);
      slow.push(priority, node);
    }
  }
  while (slow.size > 0) popped.push([[fast.topPriority(), fast.pop()], [slow.topPriority(), slow.pop()]]);
  t.equal(fast.size, 0);
  t.ok(popped.every(([a, b]) => a[0] === b[0] && a[1] === b[1]), `${popped.length} tops agree`);
});

t.test('KISS stream: seeded, repeatable, uniform enough', async (t) => {
  const a = new Kiss32Random(42);
  const b = new Kiss32Random(42);
  const c = new Kiss32Random(43);
  const sa = Array.from({ length: 10 }, () => a.next());
  t.same(sa, Array.from({ length: 10 }, () => b.next()));
  t.notSame(sa, Array.from({ length: 10 }, () => c.next()));
  const buckets = new Array<number>(10).fill(0);
  for (let i = 0; i < 100000; i++) buckets[a.index(10)]++;
  for (const count of buckets) t.ok(Math.abs(count - 10000) < 600, `bucket count ${count} near 10000`);
  let ones = 0;
  for (let i = 0; i < 10000; i++) ones += a.flip();
  t.ok(Math.abs(ones - 5000) < 300);
});
