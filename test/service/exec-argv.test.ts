import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { workerExecArgv } from '../../src/service/pool/exec-argv.js';
import { buildIndex, http, tempDir, waitFor, writeIndex } from './helpers.js';

t.test('workers get the per-thread options only: no preloads, no process-wide options', async (t) => {
  const given = ['--max-old-space-size=300', '--enable-source-maps', '--import', 'tsx', '--stack-size=900', '--require=./x.cjs', '--no-warnings', '--perf-basic-prof', '--expose-gc'];
  t.same(workerExecArgv(given), ['--enable-source-maps', '--no-warnings']);
  t.same(workerExecArgv(['--enable-source-maps']), ['--enable-source-maps'], 'accepted options stay');
  t.same(workerExecArgv([]), []);
});

t.test('the service starts and answers under node --max-old-space-size and --stack-size', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'small', buildIndex('small'));
  const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  const child = spawn(process.execPath, ['--max-old-space-size=512', '--stack-size=900', main, 'serve', '--index-dir', dir, '--port', '0', '--host', '127.0.0.1', '--workers', '1'], {
    env: { ...process.env, NNSERVE_DEMO: 'false', NNSERVE_INLINE_MAX_WORK: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const exited = once(child, 'exit');
  const base = await Promise.race([
    waitFor(() => /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1], 2000),
    exited.then(() => {
      throw new Error(`server exited: ${out}`);
    }),
  ]);
  await waitFor(async () => ((await http(base, 'GET', '/readyz')).status === 200 ? true : undefined));
  // NNSERVE_INLINE_MAX_WORK=0: this query runs on a pool worker, which the bad options used to stop.
  const reply = await http<{ ids: number[] }>(base, 'GET', '/v1/indexes/small/items/0/neighbors?n=3');
  t.equal(reply.status, 200, out);
  t.equal(reply.body.ids.length, 3);
});
