// The cheap per-request paths: FastHistogram against prom-client's Histogram, the lazy request logger,
// and the access line written through the root logger.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Histogram, Registry } from 'prom-client';
import t from 'tap';
import { buildApp } from '../../src/service/app.js';
import { FastHistogram } from '../../src/service/fast-histogram.js';
import { lazyRequestLogger } from '../../src/service/request-logger.js';
import { buildIndex, tempDir, testConfig, writeIndex } from './helpers.js';

/** A pino logger writing into an array of parsed lines. */
function capture(level = 'info') {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

t.test('FastHistogram exposes what prom-client Histogram exposes for the same observations', async (t) => {
  const buckets = [0.001, 0.01, 0.1, 1];
  const values = [0, 0.001, 0.0011, 0.05, 0.1, 0.7, 1, 3, 250];
  const ours = new Registry();
  const theirs = new Registry();
  const fast = new FastHistogram({ name: 'h_seconds', help: 'A histogram.', labelNames: ['route', 'status'], buckets, registers: [ours] });
  const reference = new Histogram({ name: 'h_seconds', help: 'A histogram.', labelNames: ['route', 'status'], buckets, registers: [theirs] });
  const plainFast = new FastHistogram({ name: 'plain', help: 'No labels.', buckets, registers: [ours] }).series();
  const plainReference = new Histogram({ name: 'plain', help: 'No labels.', buckets, registers: [theirs] });
  t.equal(await ours.metrics(), await theirs.metrics(), 'before any observation');
  values.forEach((v, i) => {
    const labels = { route: i % 3 ? '/a/:id' : '/b "quoted"\\', status: i % 2 ? '200' : '404' };
    fast.series(labels.route, labels.status).observe(v);
    reference.observe(labels, v);
    plainFast.observe(v);
    plainReference.observe(v);
  });
  t.equal(await ours.metrics(), await theirs.metrics());
  fast.series('/a/:id', '200').observe(Number.NaN);
  t.equal(await ours.metrics(), await theirs.metrics(), 'a non-finite value is ignored, never thrown');
  t.throws(() => fast.series('/a/:id'), /expected 2 label values/);
});

t.test('a request logger makes its pino child only when used, bound to the request id', async (t) => {
  const { logger, lines } = capture();
  let children = 0;
  const child = logger.child;
  // pino children inherit this property: count only the children made from the root.
  logger.child = function (this: typeof logger, ...args: Parameters<typeof child>) {
    if (this === logger) children++;
    return child.apply(this, args);
  } as typeof logger.child;
  const log = lazyRequestLogger(logger, { reqId: 'r-1' }, {});
  t.equal(log.level, 'info');
  t.equal(children, 0, 'nothing made until a log call');
  log.info({ a: 1 }, 'hello %s', 'world');
  log.error(new Error('boom'));
  log.child({ part: 'x' }).warn('from a grandchild');
  t.equal(children, 1, 'one child for the request');
  t.match(lines, [
    { reqId: 'r-1', a: 1, msg: 'hello world', level: 30 },
    { reqId: 'r-1', level: 50, err: { message: 'boom' } },
    { reqId: 'r-1', part: 'x', msg: 'from a grandchild', level: 40 },
  ]);
  log.level = 'error';
  log.warn('dropped');
  t.equal(lines.length, 3, 'a level set on the request logger applies to it');
  t.equal(logger.level, 'info', 'and not to the root');
  t.equal(lazyRequestLogger(logger, { reqId: 'r-2' }, { level: 'debug' }).level, 'debug', 'a route log level is kept');
});

t.test('one access line per request, through the root logger, with the request id', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'm', buildIndex('m', { dimensions: 4, items: 50 }));
  const { logger, lines } = capture();
  const app = await buildApp({ config: testConfig(dir, { workers: 1, accessLog: true, logLevel: 'info' }), logger });
  t.teardown(() => app.close());
  await app.ready();
  await app.nn.initialLoad;
  const ok = await app.inject({ method: 'GET', url: '/v1/indexes/m/items/3/neighbors?n=2', headers: { 'x-request-id': 'given-1' } });
  const missing = await app.inject({ method: 'GET', url: '/v1/indexes/nope/items/3' });
  t.equal(ok.statusCode, 200);
  t.equal(ok.headers['x-request-id'], 'given-1');
  t.equal(missing.statusCode, 404);
  const access = lines.filter((l) => l.msg === 'request completed');
  t.match(access, [
    { reqId: 'given-1', method: 'GET', route: '/v1/indexes/:name/items/:id/neighbors', status: 200, level: 30 },
    { reqId: missing.headers['x-request-id'], route: '/v1/indexes/:name/items/:id', status: 404 },
  ]);
  t.equal(access.length, 2);
  t.type(access[0].ms, 'number');
  t.equal(access[0].ip, '127.0.0.1', 'the client address');
});
