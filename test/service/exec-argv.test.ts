import t from 'tap';
import { workerExecArgv } from '../../src/service/pool/exec-argv.js';
import { buildIndex, http, spawnServer, tempDir, writeIndex } from './helpers.js';

t.test('workers get the per-thread options only: no preloads, no process-wide options', async (t) => {
  const given = ['--max-old-space-size=300', '--enable-source-maps', '--import', 'tsx', '--stack-size=900', '--require=./x.cjs', '--no-warnings', '--perf-basic-prof', '--expose-gc'];
  t.same(workerExecArgv(given), ['--enable-source-maps', '--no-warnings']);
  t.same(workerExecArgv(['--enable-source-maps']), ['--enable-source-maps'], 'accepted options stay');
  t.same(workerExecArgv([]), []);
});

t.test('the service starts and answers under node --max-old-space-size and --stack-size', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'small', buildIndex('small'));
  const server = await spawnServer(t, dir, 1, { NNSERVE_INLINE_MAX_WORK: '0' }, ['--max-old-space-size=512', '--stack-size=900']);
  // NNSERVE_INLINE_MAX_WORK=0: this query runs on a pool worker, which the bad options used to stop.
  const reply = await http<{ ids: number[] }>(server.base, 'GET', '/v1/indexes/small/items/0/neighbors?n=3');
  t.equal(reply.status, 200, server.output());
  t.equal(reply.body.ids.length, 3);
});
