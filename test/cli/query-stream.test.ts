import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { randomRows, tempDir, writeFvecs } from './fixtures.js';
import { runCli } from './run-cli.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** A euclidean index of random rows built by the CLI in a fresh directory; returns the .ann path. */
function builtIndex(t: Test, rows: number, dimensions: number, trees: number): string {
  const dir = tempDir(t);
  const input = join(dir, 'v.fvecs');
  const out = join(dir, 'v.ann');
  writeFvecs(input, randomRows(rows, dimensions, 3));
  t.equal(runCli(['build', input, out, '--metric', 'euclidean', '--trees', String(trees)]).code, 0);
  return out;
}

t.test('query keeps up with a slow reader: every answer arrives, and nothing but the stats on stderr', async (t) => {
  const out = builtIndex(t, 300, 6, 3);

  const count = 40_000;
  const child = spawn(process.execPath, [MAIN, 'query', out, '-n', '10', '--include-distances'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  child.stdin.end(Array.from({ length: count }, (_, i) => `{"item":${i % 300}}`).join('\n') + '\n');

  // Read with a pause after every chunk, so the pipe fills and the command waits for 'drain' many times.
  let lines = 0;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    for (let i = chunk.indexOf('\n'); i >= 0; i = chunk.indexOf('\n', i + 1)) lines++;
    child.stdout.pause();
    setTimeout(() => child.stdout.resume(), 2);
  });
  t.equal(await exited, 0);
  t.equal(lines, count, 'one answer per query');
  t.notMatch(stderr, /Warning/, 'no listener-leak warning');
  const stats = JSON.parse(stderr) as Record<string, number>;
  t.equal(stats.queries, count);
});

t.test('answers that cannot be written (a full disk) are an error, not a quiet exit 0', { skip: existsSync('/dev/full') ? false : 'no /dev/full here' }, async (t) => {
  const out = builtIndex(t, 30, 4, 2);
  // /dev/full fails every write with ENOSPC, as a full disk does: the command used to stop, print
  // its stats and exit 0, so `nnserve query … > results.jsonl` looked like a success.
  const full = openSync('/dev/full', 'w');
  t.teardown(() => closeSync(full));
  const r = spawnSync(process.execPath, [MAIN, 'query', out], { input: '{"item": 1}\n{"item": 2}', stdio: ['pipe', full, 'pipe'], encoding: 'utf8' });
  t.equal(r.status, 1);
  const lines = r.stderr.trimEnd().split('\n');
  t.match(lines[0], /^nnserve query: cannot write the results: ENOSPC/);
  t.match(JSON.parse(lines[1]), { errors: 0 }, 'the stats line still comes last');
  t.equal(lines.length, 2);
});
