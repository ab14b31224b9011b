import t from 'tap';
import { Deadline } from '../../src/service/pool/deadline.js';
import { ServiceError } from '../../src/service/errors.js';

const never = new Promise<never>(() => undefined);
const after = (ms: number, value: string) => new Promise<string>((resolve) => setTimeout(() => resolve(value), ms));

t.test('work that finishes in time wins the race', async (t) => {
  const d = new Deadline(200);
  t.equal(await d.race(after(5, 'done')), 'done');
  t.notOk(d.isOver);
  d.clear();
});

t.test('work still running when the time is up gets the 504 error', async (t) => {
  const d = new Deadline(20);
  const started = performance.now();
  const err = await d.race(never).catch((e: unknown) => e);
  t.ok(err instanceof ServiceError && err.statusCode === 504, 'a 504 ServiceError');
  t.match((err as Error).message, /within 20 ms/);
  t.ok(performance.now() - started >= 15, 'not before its time');
  t.ok(d.isOver);
  t.ok(d.timedOut, 'the time passed');
});

t.test('giveUp ends every wait at once', async (t) => {
  const d = new Deadline(60_000);
  const waits = [d.race(never), d.race(never)];
  d.giveUp('batch_failed');
  const outcomes = await Promise.allSettled(waits);
  t.same(outcomes.map((o) => o.status), ['rejected', 'rejected']);
  t.ok(d.isOver);
  t.notOk(d.timedOut, 'given up, not passed: the caller was answered with another error');
});

t.test('a cleared deadline never fires', async (t) => {
  const d = new Deadline(10);
  d.clear();
  t.equal(await d.race(after(30, 'late but fine')), 'late but fine');
  t.notOk(d.isOver);
});
