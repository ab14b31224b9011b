import t from 'tap';
import { TaskCoalescer } from '../../src/service/pool/task-coalescer.js';
import type { QueryReply, QueryTask } from '../../src/service/pool/task.js';

/** A pool stand-in: records every task sent and answers when told, each query with its own number as id. */
function fakePool() {
  const sent: { task: QueryTask; finish(reply?: QueryReply): void }[] = [];
  const send = (task: QueryTask) =>
    new Promise<QueryReply>((resolve) => {
      sent.push({ task, finish: (reply) => resolve(reply ?? { answers: task.queries.map((q) => ({ ids: [q as number], candidates: 1, seconds: 0 })) }) });
    });
  return { sent, send };
}

/** Versions of one name here, so each version's generation is its number. */
function task(queries: number[], over: Partial<QueryTask> = {}): QueryTask {
  return {
    name: 'a', version: 1, generation: over.version ?? 1, slot: 0, storage: {} as QueryTask['storage'], metric: 'angular', dimensions: 2,
    queries, n: 10, searchK: -1, includeDistances: false, deadlineAt: 1000, ...over,
  };
}

const idsOf = (reply: QueryReply) => ('answers' in reply ? reply.answers.map((a) => a.ids[0]) : reply.error.code);
const tick = () => new Promise((resolve) => setImmediate(resolve));

t.test('tasks go out at once while the pool has room, and merge while it is full', async (t) => {
  const pool = fakePool();
  const c = new TaskCoalescer(pool.send, 2, 8);
  const r1 = c.submit(task([1]));
  const r2 = c.submit(task([2]));
  t.equal(pool.sent.length, 2, 'two in flight');
  const r3 = c.submit(task([3]));
  const r4 = c.submit(task([4, 5]));
  const r5 = c.submit(task([6], { version: 2 })); // another version: another group
  t.equal(pool.sent.length, 2, 'the rest wait');
  t.equal(c.queued, 4);

  pool.sent[0].finish();
  t.same(idsOf(await r1), [1]);
  await tick();
  t.equal(pool.sent.length, 3, 'a finished task lets the oldest group out');
  t.same(pool.sent[2].task.queries, [3, 4, 5], 'as one task');
  pool.sent[2].finish();
  t.same(idsOf(await r3), [3], 'each member gets its own answers');
  t.same(idsOf(await r4), [4, 5]);
  await tick();
  t.equal(pool.sent.length, 4);
  t.same(pool.sent[3].task.queries, [6]);
  t.equal(pool.sent[3].task.version, 2);
  pool.sent[1].finish();
  pool.sent[3].finish();
  t.same(idsOf(await r2), [2]);
  t.same(idsOf(await r5), [6]);
  t.equal(c.queued, 0);
});

t.test('a merged task carries at most maxQueries and the latest deadline', async (t) => {
  const pool = fakePool();
  const c = new TaskCoalescer(pool.send, 1, 3);
  const first = c.submit(task([0]));
  const waiting = [c.submit(task([1], { deadlineAt: 5 })), c.submit(task([2], { deadlineAt: 9 })), c.submit(task([3], { deadlineAt: 7 })), c.submit(task([4]))];
  pool.sent[0].finish();
  await first;
  await tick();
  t.same(pool.sent[1].task.queries, [1, 2, 3]);
  t.equal(pool.sent[1].task.deadlineAt, 9);
  pool.sent[1].finish();
  await tick();
  t.same(pool.sent[2].task.queries, [4], 'the overflow went into a group of its own, in order');
  pool.sent[2].finish();
  t.same((await Promise.all(waiting)).map(idsOf), [[1], [2], [3], [4]]);
});

t.test('a merged task that fails is rerun member by member', async (t) => {
  const pool = fakePool();
  const c = new TaskCoalescer(pool.send, 1, 8);
  const first = c.submit(task([0]));
  const a = c.submit(task([1]));
  const b = c.submit(task([2]));
  pool.sent[0].finish();
  await first;
  await tick();
  pool.sent[1].finish({ error: { code: 'input', message: 'item 2 is gone' } });
  await tick();
  // Changed: this said both members went out at once ([[1], [2]]), past maxInFlight 1.
  t.same(pool.sent.slice(2).map((s) => s.task.queries), [[1]], 'each member alone, within maxInFlight');
  pool.sent[2].finish();
  t.same(idsOf(await a), [1], 'the good query still gets its answer');
  await tick();
  t.same(pool.sent.slice(3).map((s) => s.task.queries), [[2]], 'the next member once a slot frees');
  pool.sent[3].finish({ error: { code: 'input', message: 'item 2 is gone' } });
  t.same(idsOf(await b), 'input', 'the bad one gets the error');
});

t.test('members of a failed merge rerun ahead of the groups waiting, never past maxInFlight', async (t) => {
  const pool = fakePool();
  const c = new TaskCoalescer(pool.send, 2, 8);
  const busy = [c.submit(task([0])), c.submit(task([1]))];
  const merged = [2, 3, 4, 5].map((q) => c.submit(task([q])));
  pool.sent[0].finish();
  await busy[0];
  await tick();
  t.same(pool.sent[2].task.queries, [2, 3, 4, 5], 'the four went out as one task');
  const later = c.submit(task([6], { searchK: 50 }));
  t.equal(c.queued, 1, 'a task of other options waits');
  let most = 0;
  pool.sent[2].finish({ error: { code: 'input', message: 'item 4 is gone' } });
  await tick();
  most = c.sent;
  t.equal(c.sent, 2, 'the pool is full again, not past it');
  t.equal(c.queued, 4, 'three reruns and the other task wait');
  t.same(pool.sent.slice(3).map((s) => s.task.queries), [[2]], 'one rerun in the free slot');
  for (let i = 1; i < 8 && pool.sent.length > i; i++) {
    pool.sent[i].finish(pool.sent[i].task.queries[0] === 4 ? { error: { code: 'input', message: 'item 4 is gone' } } : undefined);
    await tick();
    most = Math.max(most, c.sent);
  }
  t.same(pool.sent.slice(3).map((s) => s.task.queries), [[2], [3], [4], [5], [6]], 'reruns in order, then the task that waited');
  t.ok(most <= 2, `never more than maxInFlight tasks sent (most: ${most})`);
  t.same(await Promise.all(merged.map((m) => m.then(idsOf))), [[2], [3], 'input', [5]]);
  t.same(idsOf(await later), [6]);
  t.equal(c.queued, 0);
});

t.test('a member of a failed merge, waiting for its rerun, can be withdrawn: it is never sent', async (t) => {
  const pool = fakePool();
  const c = new TaskCoalescer(pool.send, 1, 8);
  const first = c.submit(task([0]));
  const members = [1, 2, 3].map((q) => task([q]));
  const replies = members.map((m) => c.submit(m));
  pool.sent[0].finish();
  await first;
  await tick();
  pool.sent[1].finish({ error: { code: 'input', message: 'item 3 is gone' } });
  await tick();
  t.same(pool.sent.slice(2).map((s) => s.task.queries), [[1]], 'the first member reruns; the others wait for the slot');
  t.equal(c.queued, 2);
  // Its caller got a 504 meanwhile: nobody wants the answer any more.
  t.equal(c.withdraw(members[1], new Error('deadline')), true, 'withdrawn while waiting for its rerun');
  await t.rejects(replies[1], /deadline/);
  t.equal(c.queued, 1);
  pool.sent[2].finish();
  t.same(idsOf(await replies[0]), [1]);
  await tick();
  pool.sent[3].finish({ error: { code: 'input', message: 'item 3 is gone' } });
  t.same(idsOf(await replies[2]), 'input');
  t.same(pool.sent.slice(2).map((s) => s.task.queries), [[1], [3]], 'the withdrawn member never went out');
  t.equal(c.withdraw(members[0], new Error('late')), false, 'a member already answered is not withdrawn');
});

t.test('a send that rejects rejects every member', async (t) => {
  let calls = 0;
  let release = (): void => undefined;
  const send = (x: QueryTask) => {
    calls++;
    if (calls === 1) return new Promise<QueryReply>((resolve) => { release = () => resolve({ answers: x.queries.map(() => ({ ids: [], candidates: 0, seconds: 0 })) }); });
    return Promise.reject(new Error('worker lost'));
  };
  const c = new TaskCoalescer(send, 1, 8);
  const first = c.submit(task([0]));
  const members = [c.submit(task([1])), c.submit(task([2]))];
  release();
  await first;
  for (const m of members) await t.rejects(m, /worker lost/);
});

t.test('sent counts tasks handed out until answered; queued counts waiting queries', async (t) => {
  const pool = fakePool();
  const c = new TaskCoalescer(pool.send, 1, 8);
  const first = c.submit(task([0]));
  const rest = c.submit(task([1, 2]));
  t.equal(c.sent, 1);
  t.equal(c.queued, 2);
  pool.sent[0].finish();
  await first;
  await tick();
  t.equal(c.sent, 1, 'the waiting group went out');
  t.equal(c.queued, 0);
  pool.sent[1].finish();
  await rest;
  t.equal(c.sent, 0);
});

t.test('a withdrawn member leaves its merged group: the rest go out without it, under their own latest deadline', async (t) => {
  const pool = fakePool();
  const c = new TaskCoalescer(pool.send, 1, 8);
  const first = c.submit(task([0]));
  const gone = task([1, 2], { deadlineAt: 50 });
  const withdrawn = c.submit(gone);
  const kept = [c.submit(task([3], { deadlineAt: 20 })), c.submit(task([4], { deadlineAt: 30 }))];
  t.equal(c.queued, 4);
  const reason = new Error('nobody waits');
  t.ok(c.withdraw(gone, reason), 'a waiting task is withdrawn');
  await t.rejects(withdrawn, reason, 'its promise rejects with the reason');
  t.equal(c.queued, 2, 'its queries no longer count as queued');
  t.notOk(c.withdraw(gone, reason), 'only once');
  pool.sent[0].finish();
  await first;
  await tick();
  t.same(pool.sent[1].task.queries, [3, 4], 'the group goes out without its queries');
  t.equal(pool.sent[1].task.deadlineAt, 30, 'and runs no longer than its remaining members wait');
  pool.sent[1].finish();
  t.same((await Promise.all(kept)).map(idsOf), [[3], [4]], 'the others get their own answers');
  t.equal(pool.sent.length, 2, 'nothing more was sent');
});

t.test('a group left empty by withdrawals is gone: the next group goes out, a newcomer starts a group at the back', async (t) => {
  const pool = fakePool();
  const c = new TaskCoalescer(pool.send, 1, 8);
  const first = c.submit(task([0]));
  const a = task([1]);
  const withdrawn = c.submit(a);
  const other = c.submit(task([2], { version: 2 }));
  t.ok(c.withdraw(a, new Error('gone')));
  await t.rejects(withdrawn, /gone/);
  const late = c.submit(task([3]));
  pool.sent[0].finish();
  await first;
  await tick();
  t.same(pool.sent[1].task.queries, [2], 'the other version, next in line, goes out');
  pool.sent[1].finish();
  t.same(idsOf(await other), [2]);
  await tick();
  t.same(pool.sent[2].task.queries, [3], 'the newcomer did not join the withdrawn group\'s place');
  pool.sent[2].finish();
  t.same(idsOf(await late), [3]);
  t.equal(c.queued, 0);
});

t.test('a full group retired under another key still finds its members to withdraw', async (t) => {
  const pool = fakePool();
  const c = new TaskCoalescer(pool.send, 1, 2);
  const first = c.submit(task([0]));
  const full = task([1, 2]);
  const withdrawn = c.submit(full);
  const next = c.submit(task([3])); // the group of [1, 2] is full: [3] opens another
  t.ok(c.withdraw(full, new Error('gone')));
  await t.rejects(withdrawn, /gone/);
  t.equal(c.queued, 1);
  pool.sent[0].finish();
  await first;
  await tick();
  t.same(pool.sent.slice(1).map((s) => s.task.queries), [[3]], 'only the open group went out');
  pool.sent[1].finish();
  t.same(idsOf(await next), [3]);
});

t.test('a task already sent cannot be withdrawn', async (t) => {
  const pool = fakePool();
  const c = new TaskCoalescer(pool.send, 1, 8);
  const sentAtOnce = task([0]);
  const first = c.submit(sentAtOnce);
  const queued = task([1]);
  const second = c.submit(queued);
  t.notOk(c.withdraw(sentAtOnce, new Error('late')), 'sent at once: not waiting');
  pool.sent[0].finish();
  t.same(idsOf(await first), [0], 'and it is answered');
  await tick();
  t.notOk(c.withdraw(queued, new Error('late')), 'sent once its group went out: not waiting either');
  pool.sent[1].finish();
  t.same(idsOf(await second), [1]);
});

t.test('withdrawing a task whose caller no longer listens is not an unhandled rejection', async (t) => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  t.teardown(() => process.off('unhandledRejection', onUnhandled));
  const pool = fakePool();
  const c = new TaskCoalescer(pool.send, 1, 8);
  const first = c.submit(task([0]));
  const ignored = task([1]);
  void c.submit(ignored);
  t.ok(c.withdraw(ignored, new Error('nobody listens')));
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.same(unhandled, []);
  pool.sent[0].finish();
  await first;
});
