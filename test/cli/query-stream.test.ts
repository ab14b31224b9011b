import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { randomRows, tempDir, writeFvecs } from './fixtures.js';
import { runCli } from './run-cli.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

t.test('query keeps up with a slow reader: every answer arrives, and nothing but the stats on stderr', async (t) => {
  const dir = tempDir(t);
  const input = join(dir, 'v.fvecs');
  const out = join(dir, 'v.ann');
  writeFvecs(input, randomRows(300, 6, 3));
  t.equal(runCli(['build', input, out, '--metric', 'euclidean', '--trees', '3']).code, 0);

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
