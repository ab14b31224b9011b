import t from 'tap';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAIN, runCli, type CliResult } from './run-cli.js';
import { tempDir, writeNpy } from './fixtures.js';

/** Writes `text` as `dir/name` and runs `nnserve build` on it into `dir/<name>.ann`. */
function buildFromText(dir: string, name: string, text: string, metric = 'euclidean'): CliResult {
  writeFileSync(join(dir, name), text);
  return runCli(['build', join(dir, name), join(dir, `${name}.ann`), '--metric', metric]);
}

t.test('usage', async (t) => {
  let r = runCli([]);
  t.equal(r.code, 2, 'no command: exit 2');
  t.match(r.stderr, /Usage: nnserve <command>/);

  r = runCli(['frobnicate']);
  t.equal(r.code, 2, 'unknown command: exit 2');
  t.match(r.stderr, /unknown command "frobnicate"/);
  t.match(r.stderr, /build +build an Annoy index/);

  r = runCli(['--help']);
  t.equal(r.code, 0);
  for (const command of ['build', 'inspect', 'query', 'serve', 'fetch']) t.match(r.stdout, new RegExp(`\\n  ${command} `), command);

  for (const command of ['build', 'inspect', 'query']) {
    r = runCli([command, '--help']);
    t.equal(r.code, 0, `${command} --help`);
    t.match(r.stdout, new RegExp(`Usage: nnserve ${command} `));
  }
  r = runCli(['help', 'query']);
  t.match(r.stdout, /Usage: nnserve query /, '`help <command>` shows that command');

  r = runCli(['build', 'a.jsonl']);
  t.equal(r.code, 2, 'missing positional: exit 2');
  t.match(r.stderr, /nnserve build: missing <output.ann>\n\nUsage: nnserve build/);

  r = runCli(['build', 'a.jsonl', 'b.ann', '--metric', 'cosine']);
  t.equal(r.code, 2);
  t.match(r.stderr, /--metric must be one of angular, euclidean, manhattan, dot, hamming \(got "cosine"\)/);

  r = runCli(['build', 'a.jsonl', 'b.ann']);
  t.match(r.stderr, /--metric is required/);

  r = runCli(['build', 'a.jsonl', 'b.idx', '--metric', 'dot']);
  t.match(r.stderr, /the output file must end in \.ann/);

  r = runCli(['build', 'a.jsonl', 'b.ann', '--metric', 'dot', '--trees', 'ten']);
  t.match(r.stderr, /--trees must be an integer \(got "ten"\)/);

  r = runCli(['query', 'x.ann', '--bogus']);
  t.equal(r.code, 2);
  t.match(r.stderr, /Unknown option '--bogus'/);
});

t.test('metric and dimensions needed without a manifest', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'lonely.ann');
  writeFileSync(file, Buffer.alloc(0));
  let r = runCli(['inspect', file]);
  t.equal(r.code, 2);
  t.match(r.stderr, /--metric and --dimensions needed: Annoy files do not record them, and there is no manifest at .*lonely\.json/);
  r = runCli(['query', file, '--metric', 'angular']);
  t.match(r.stderr, /--dimensions needed/);

  writeFileSync(join(dir, 'lonely.json'), '{"metric": "angular",');
  r = runCli(['inspect', file]);
  t.equal(r.code, 1, 'a broken manifest is an error when flags are missing');
  t.match(r.stderr, /lonely\.json: invalid JSON/);
  r = runCli(['inspect', file, '--metric', 'angular', '--dimensions', '4']);
  t.match(r.stderr, /ignoring the manifest: .*invalid JSON/, 'with both flags it is only a warning');

  r = runCli(['inspect', join(dir, 'missing.ann'), '-m', 'angular', '-f', '4']);
  t.equal(r.code, 1);
  t.match(r.stderr, /missing\.ann does not exist/);
});

t.test('inspect and query say a missing file is missing before asking for a manifest', async (t) => {
  const dir = tempDir(t);
  const missing = join(dir, 'nonexistent.ann');
  for (const command of ['inspect', 'query']) {
    for (const flags of [[], ['-m', 'angular', '-f', '4']]) {
      const how = [command, ...flags].join(' ');
      let r = runCli([command, missing, ...flags]);
      t.equal(r.code, 1, `${how}: a missing file exits 1`);
      t.equal(r.stderr, `nnserve ${command}: ${missing} does not exist\n`, how);
      r = runCli([command, dir, ...flags]);
      t.equal(r.code, 1, `${how}: a directory exits 1`);
      t.equal(r.stderr, `nnserve ${command}: ${dir} is not a file\n`, how);
      r = runCli([command, join(dir, 'no-dir', 'x.ann'), ...flags]);
      t.match(r.stderr, /no-dir\/x\.ann does not exist\n$/, `${how}: under a missing directory`);
    }
    // A mistyped flag is still a usage error first.
    const r = runCli([command, missing, '--metric', 'cosine']);
    t.equal(r.code, 2);
    t.match(r.stderr, /--metric must be one of/);
  }
});

t.test('build input errors exit 1 with the reader message', async (t) => {
  const dir = tempDir(t);
  let r = buildFromText(dir, 'bad.jsonl', '{"id": 0, "vector": [1, 2]}\n{"id": 1, "vector": [1]}\n');
  t.equal(r.code, 1);
  t.match(r.stderr, /bad\.jsonl: line 2: vector has 1 values, earlier rows have 2/);

  r = buildFromText(dir, 'bits.jsonl', '{"vector": [0, 1, 1]}\n{"vector": [0, 0.5, 1]}\n', 'hamming');
  t.equal(r.code, 1);
  t.match(r.stderr, /row 2: value 2 is 0.5; hamming vectors hold 0 or 1 per bit/);

  r = runCli(['build', join(dir, 'nothing.csv'), join(dir, 'x.ann'), '--metric', 'dot']);
  t.equal(r.code, 1);
  t.match(r.stderr, /ENOENT/);
});

t.test('--seed stops at the 32 bits the generator takes', async (t) => {
  const dir = tempDir(t);
  const input = join(dir, 'v.csv');
  writeFileSync(input, '1,2\n3,4\n5,6\n7,8\n');
  let r = runCli(['build', input, join(dir, 'top.ann'), '--metric', 'euclidean', '--seed', '4294967295', '--threads', '1']);
  t.equal(r.code, 0, r.stderr);
  // Accepted, it built the very file --seed 0 builds.
  r = runCli(['build', input, join(dir, 'wrapped.ann'), '--metric', 'euclidean', '--seed', '4294967296', '--threads', '1']);
  t.equal(r.code, 2);
  t.match(r.stderr, /nnserve build: --seed must be between 0 and 4294967295 \(got 4294967296\)/);
  t.notOk(existsSync(join(dir, 'wrapped.ann')));
});

t.test('a negative number after an option is its value', async (t) => {
  const dir = tempDir(t);
  const input = join(dir, 'v.csv');
  writeFileSync(input, '1,2\n3,4\n5,6\n');
  const out = join(dir, 'v.ann');

  let r = runCli(['build', input, out, '--metric', 'euclidean', '--trees', '-1']);
  t.equal(r.code, 0, `--trees -1 is the automatic count: ${r.stderr}`);
  t.match(r.stderr, /nnserve build: wrote .*v\.ann/);

  r = runCli(['query', out, '--search-k', '-1', '-n', '2'], '{"item": 0}\n');
  t.equal(r.code, 0, r.stderr);
  t.equal((JSON.parse(r.stdout) as { ids: number[] }).ids.length, 2, '--search-k -1');
  r = runCli(['query', out, '-k', '-1', '-n', '2'], '{"item": 0}\n');
  t.equal(r.code, 0, `-k -1: ${r.stderr}`);
  r = runCli(['query', out, '-dk', '-1'], '{"item": 0}\n');
  t.equal(r.code, 0, `-dk -1 (a group ending in an option that takes a value): ${r.stderr}`);
  t.match(JSON.parse(r.stdout), { distances: [0] });

  // Taken as the value, then checked like any other value.
  r = runCli(['build', input, out, '--metric', 'euclidean', '--seed', '-1']);
  t.equal(r.code, 2);
  t.match(r.stderr, /nnserve build: --seed must be between 0 and \d+ \(got -1\)/);
  r = runCli(['build', input, out, '--metric', 'euclidean', '--trees', '-2.5']);
  t.match(r.stderr, /--trees must be an integer \(got "-2\.5"\)/);
  r = runCli(['query', out, '-n', '-3']);
  t.match(r.stderr, /--n must be between 1 and \d+ \(got -3\)/);

  // A word that is not a number still reads as a forgotten value.
  r = runCli(['build', input, out, '--trees', '--metric', 'euclidean']);
  t.equal(r.code, 2);
  t.match(r.stderr, /Option '--trees' argument is ambiguous/);
});

t.test('build checks the output directory before reading the input', async (t) => {
  const dir = tempDir(t);
  // The input fails on its last line: reaching it would mean the build had started.
  const input = join(dir, 'v.jsonl');
  writeFileSync(input, '{"vector": [1, 2]}\n{"vector": [3]}\n');
  const missing = join(dir, 'nodir');
  let r = runCli(['build', input, join(missing, 'x.ann'), '--metric', 'euclidean']);
  t.equal(r.code, 1);
  t.equal(r.stderr, `nnserve build: output directory ${missing} does not exist\n`);

  const file = join(dir, 'plain-file');
  writeFileSync(file, '');
  r = runCli(['build', input, join(file, 'x.ann'), '--metric', 'euclidean']);
  t.equal(r.code, 1);
  t.equal(r.stderr, `nnserve build: output directory ${file} is not a directory\n`);

  const taken = join(dir, 'taken.ann');
  mkdirSync(taken);
  r = runCli(['build', input, taken, '--metric', 'euclidean']);
  t.equal(r.code, 1);
  t.equal(r.stderr, `nnserve build: ${taken} is a directory\n`);

  // The manifest (or ids file) path taken by a directory: the build used to run, install the
  // .ann, then fail on the manifest with "cannot write x.ann: EISDIR", naming the wrong file.
  for (const [ext, blocked] of [['.json', 'manifest'], ['.ids', 'ids file']]) {
    const out = join(dir, `side${ext === '.json' ? 'a' : 'b'}.ann`);
    const side = out.replace(/\.ann$/, ext);
    mkdirSync(side);
    r = runCli(['build', input, out, '--metric', 'euclidean']);
    t.equal(r.code, 1);
    t.equal(r.stderr, `nnserve build: ${side} is a directory, where the ${blocked} would go\n`);
    t.notOk(existsSync(out), 'nothing installed');
  }
});

t.test('a value beyond the 32-bit float range is named, with file and row', async (t) => {
  const dir = tempDir(t);
  const cases: Array<[string, string, RegExp]> = [
    ['big.csv', '1,2\n3,1e39\n', /big\.csv: line 2: value 2 is 1e\+39, outside the 32-bit float range \(±3\.4e38\) that Annoy stores/],
    ['small.csv', 'id,a,b\n7,-4e38,1\n', /small\.csv: line 2: value 1 is -4e\+38, outside the 32-bit float range/],
    ['big.jsonl', '{"vector": [1, 2]}\n\n{"vector": [1e39, 2]}\n', /big\.jsonl: line 3: value 1 is 1e\+39, outside the 32-bit float range/],
  ];
  for (const [name, text, pattern] of cases) {
    const r = buildFromText(dir, name, text);
    t.equal(r.code, 1, name);
    t.match(r.stderr, pattern, name);
    t.notMatch(r.stderr, /Infinity/, `${name}: 1e39 is not called Infinity`);
  }
  const npy = join(dir, 'big.npy');
  writeNpy(npy, [[1, 2], [3, -1e39]], { descr: '<f8' });
  const r = runCli(['build', npy, join(dir, 'out.ann'), '--metric', 'euclidean']);
  t.equal(r.code, 1, 'npy float64');
  t.match(r.stderr, /big\.npy: row 2: value 2 is -1e\+39, outside the 32-bit float range/);

  // The largest float32 itself is a value the readers take; a vector whose squared length is past
  // the range is refused next, as the service refuses such a query (every distance would overflow).
  const overflowing = buildFromText(dir, 'edge.csv', '3.4028234663852886e38,1\n-3.4028234663852886e38,2\n');
  t.equal(overflowing.code, 1);
  t.match(overflowing.stderr, /edge\.csv: row 1 is too long: its squared length 1\.16e\+77 is past the 32-bit float range/);
  const built = buildFromText(dir, 'large.csv', '1e19,1\n-1e19,2\n3,4\n');
  t.equal(built.code, 0, built.stderr);
});

t.test('an id too large to build is refused with the size it would take', async (t) => {
  const dir = tempDir(t);
  // Annoy allocates a node for every id up to the largest: 2^31 nodes of 24 bytes (euclidean, 2 dimensions).
  const r = buildFromText(dir, 'far.jsonl', '{"id": 0, "vector": [1, 2]}\n{"id": 2147483647, "vector": [3, 4]}\n');
  t.equal(r.code, 1);
  t.match(r.stderr, /^nnserve build: id 2147483647 would make an index of 2147483648 items × 24 bytes = 48\.00 GiB, more than /);
  t.match(r.stderr, /give sparse ids as strings\n$/, 'says how to number sparse ids');
  t.equal(r.stderr.split('\n').length, 2, 'one line');
  t.notMatch(r.stderr, /allocation failed/);
});

t.test('build refuses more dimensions than the manifest, inspect, query and serve accept', async (t) => {
  const dir = tempDir(t);
  // 1,000,001 dimensions: the build used to succeed and write a manifest every other command refused.
  const input = join(dir, 'wide.npy');
  writeNpy(input, [Array.from({ length: 1_000_001 }, (_, j) => (j % 7) - 3)]);
  const out = join(dir, 'wide.ann');
  const r = runCli(['build', input, out, '--metric', 'euclidean']);
  t.equal(r.code, 1, r.stderr);
  t.match(r.stderr, /^nnserve build: .*wide\.npy: 1000001 dimensions, more than the 1000000 an index may have\n$/);
  t.notOk(existsSync(out), 'nothing written');
  t.notOk(existsSync(join(dir, 'wide.json')));

  // The largest allowed builds and is read back through its manifest.
  writeNpy(input, [Array.from({ length: 1_000_000 }, (_, j) => (j % 7) - 3)]);
  t.equal(runCli(['build', input, out, '--metric', 'euclidean', '--trees', '1']).code, 0);
  const inspected = runCli(['inspect', out]);
  t.equal(inspected.code, 0, inspected.stderr);
});

t.test('build refuses an output name whose ids file no manifest may name', async (t) => {
  const dir = tempDir(t);
  const input = join(dir, 'named.jsonl');
  writeFileSync(input, '{"id": "a", "vector": [1, 2]}\n{"id": "b", "vector": [3, 4]}\n');
  // .hidden.ids: the build used to write it and a manifest naming it, which inspect, query and
  // serve then refused ("ids" must be a plain file name ...).
  const r = runCli(['build', input, join(dir, '.hidden.ann'), '--metric', 'euclidean']);
  t.equal(r.code, 1, r.stderr);
  t.match(r.stderr, /^nnserve build: the ids file would be \.hidden\.ids, and a manifest may not name a file starting with "\."; choose an output name that does not start with "\."\n$/);
  t.same(readdirSync(dir), ['named.jsonl'], 'nothing written');

  // Integer ids need no ids file: such a name builds and is read back.
  writeFileSync(input, '{"id": 0, "vector": [1, 2]}\n{"id": 1, "vector": [3, 4]}\n');
  t.equal(runCli(['build', input, join(dir, '.hidden.ann'), '--metric', 'euclidean']).code, 0);
  t.equal(runCli(['query', join(dir, '.hidden.ann')], '{"item": 0}\n').stdout, '{"ids":[0,1]}\n');
});

t.test('output that cannot be written (a full disk) is one line and exit 1, not a stack trace', { skip: existsSync('/dev/full') ? false : 'no /dev/full here' }, async (t) => {
  const dir = tempDir(t);
  const input = join(dir, 'v.csv');
  writeFileSync(input, '1,2\n3,4\n5,6\n');
  const out = join(dir, 'v.ann');
  t.equal(runCli(['build', input, out, '--metric', 'euclidean']).code, 0);
  const full = openSync('/dev/full', 'w');
  t.teardown(() => closeSync(full));
  // /dev/full fails every write with ENOSPC: these ended in "Unhandled 'error' event" and its stack.
  for (const args of [['inspect', out], ['build', '--help'], ['query', '--help'], ['--help']]) {
    const r = spawnSync(process.execPath, [MAIN, ...args], { stdio: ['ignore', full, 'pipe'], encoding: 'utf8' });
    t.equal(r.status, 1, args.join(' '));
    t.match(r.stderr, /^nnserve: cannot write the output: ENOSPC: no space left on device, write\n$/, args.join(' '));
  }
});
