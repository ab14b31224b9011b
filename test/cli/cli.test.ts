import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jsonLines, runCli } from './run-cli.js';
import { randomRows, tempDir, writeFvecs, writeJsonl, writeNpy } from './fixtures.js';
import { fixturesDir } from '../helpers/fixtures.js';

interface Result {
  ids?: Array<number | string>;
  distances?: number[];
  error?: string;
}

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

function angular(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let j = 0; j < a.length; j++) {
    dot += a[j] * b[j];
    na += a[j] * a[j];
    nb += b[j] * b[j];
  }
  return Math.sqrt(Math.max(0, 2 - (2 * dot) / Math.sqrt(na * nb)));
}

t.test('jsonl with string ids: build, manifest, inspect, query', async (t) => {
  const dir = tempDir(t);
  const rows = randomRows(200, 8, 7);
  const input = join(dir, 'names.jsonl');
  writeJsonl(input, rows.map((vector, i) => ({ id: `doc-${i}`, vector })));
  const out = join(dir, 'names.ann');

  const built = runCli(['build', input, out, '--metric', 'angular', '--trees', '5', '--seed', '42', '--threads', '2']);
  t.equal(built.code, 0, built.stderr);
  t.equal(built.stdout, '');
  t.match(built.stderr, /^nnserve build: wrote .*names\.ann \(200 items, 8 dimensions, angular, 5 trees, [\d.]+ KiB\) in [\d.]+ s\n$/, 'one summary line, no progress bar off a TTY');
  t.same(readdirSync(dir).sort(), ['names.ann', 'names.ids', 'names.json', 'names.jsonl'], 'no temporary files left behind');

  const bytes = readFileSync(out);
  const manifest = readJson(join(dir, 'names.json'));
  t.match(manifest, {
    metric: 'angular',
    dimensions: 8,
    items: 200,
    trees: 5,
    annoyVersion: '1.17',
    ids: 'names.ids',
    bytes: bytes.byteLength,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    idsSha256: createHash('sha256').update(readFileSync(join(dir, 'names.ids'))).digest('hex'),
    source: 'names.jsonl',
  });
  t.ok(!Number.isNaN(Date.parse(manifest.createdAt as string)), 'createdAt is a date');
  t.equal(bytes.byteLength % (12 + 4 * 8), 0, 'angular node size 12 + 4f');
  t.equal(readFileSync(join(dir, 'names.ids'), 'utf8'), rows.map((_, i) => `doc-${i}\n`).join(''));

  const inspected = runCli(['inspect', out]);
  t.equal(inspected.code, 0, inspected.stderr);
  const summary = JSON.parse(inspected.stdout) as Record<string, unknown>;
  t.match(summary, { metric: 'angular', dimensions: 8, nodeBytes: 44, K: 10, items: 200, trees: 5, holes: 0, bytes: bytes.byteLength, valid: true, manifest: { ok: true, problems: [] } });
  t.match(summary.kernels, /^(wasm-simd|js)$/);

  const queries = [{ item: 'doc-5' }, { vector: rows[7] }, { item: 3 }].map((q) => JSON.stringify(q)).join('\n') + '\n';
  const queried = runCli(['query', out, '-n', '5', '--include-distances'], queries);
  t.equal(queried.code, 0, queried.stderr);
  const results = jsonLines(queried.stdout) as Result[];
  t.equal(results.length, 3);
  t.equal(results[0].ids![0], 'doc-5', 'an item is its own nearest neighbour, named by its external id');
  t.ok(results[0].distances![0] < 1e-3);
  t.equal(results[0].ids!.length, 5);
  t.equal(results[0].distances!.length, 5);
  t.equal(results[1].ids![0], 'doc-7', 'a query by vector finds the item with that vector');
  t.equal(results[2].ids![0], 'doc-3', 'a number is an item number even with an ids file');
  const stats = JSON.parse(queried.stderr) as Record<string, number>;
  t.same(Object.keys(stats), ['queries', 'errors', 'seconds', 'qps'], 'one stats line on stderr');
  t.equal(stats.queries, 3);
  t.equal(stats.errors, 0);
  t.ok(stats.seconds > 0, 'the query phase is timed');
  t.ok(Math.abs(stats.qps - stats.queries / stats.seconds) <= 0.1 + 1e-3 * stats.qps, 'qps is queries per second of that phase');

  // A search_k covering every candidate makes the search exact: compare with brute force.
  const q = rows[11].map((v, j) => v + (j % 2 === 0 ? 0.05 : -0.05));
  const exact = runCli(['query', out, '-n', '6', '--search-k', '100000', '--include-distances'], JSON.stringify({ vector: q }) + '\n');
  const exactResult = jsonLines(exact.stdout)[0] as Result;
  const brute = rows
    .map((row, i) => ({ id: `doc-${i}`, d: angular(q, Array.from(Float32Array.from(row))) }))
    .sort((a, b) => a.d - b.d)
    .slice(0, 6);
  t.same(exactResult.ids, brute.map((b) => b.id), 'exhaustive search equals brute force');
  exactResult.distances!.forEach((d, k) => t.ok(Math.abs(d - brute[k].d) < 1e-4, `distance ${k}`));

  const mixed = ['not json', '{"item": "nope"}', '{"vector": [1, 2]}', '', '{"item": "doc-1", "n": 2}', '[1]', '{"item": "doc-2", "n": 0}'].join('\n');
  const failed = runCli(['query', out], mixed);
  t.equal(failed.code, 1, 'exit 1 when any line failed');
  const lines = jsonLines(failed.stdout) as Result[];
  t.equal(lines.length, 6, 'one output line per non-blank input line (the last one without a newline too)');
  t.match(lines[0].error, /invalid JSON/);
  t.match(lines[1].error, /unknown id "nope"/);
  t.match(lines[2].error, /./, 'wrong vector length is reported by the engine');
  t.same(lines[3], { ids: ['doc-1', lines[3].ids![1]] }, 'per-line n; no distances unless asked');
  t.match(lines[4].error, /expected \{"item"/);
  t.match(lines[5].error, /"n" must be a positive integer/);
  t.match(JSON.parse(failed.stderr), { queries: 1, errors: 5 });

  const empty = runCli(['query', out], '');
  t.equal(empty.code, 0);
  t.match(JSON.parse(empty.stderr), { queries: 0, errors: 0, qps: 0 });

  // Rebuilding over the same name replaces the files.
  const again = runCli(['build', input, out, '--metric', 'angular', '--trees', '3', '--threads', '1']);
  t.equal(again.code, 0, again.stderr);
  t.equal(readJson(join(dir, 'names.json')).trees, 3);
  t.equal(readdirSync(dir).length, 4);
});

t.test('fvecs, euclidean: the reference example from the format notes', async (t) => {
  const dir = tempDir(t);
  const input = join(dir, 'three.fvecs');
  writeFvecs(input, [[2, 2], [3, 2], [3, 3]]);
  const out = join(dir, 'three.ann');
  const built = runCli(['build', input, out, '--metric', 'euclidean', '--trees', '10', '--threads', '1']);
  t.equal(built.code, 0, built.stderr);
  t.equal(statSync(out).size, 552, '23 nodes of 24 bytes');
  // With n_items <= K Annoy's loader counts 2·n_trees − 1 identical roots; the manifest records what loaders will see.
  t.match(readJson(join(dir, 'three.json')), { metric: 'euclidean', dimensions: 2, items: 3, trees: 19, ids: null });
  t.notOk(readdirSync(dir).includes('three.ids'));

  const r = runCli(['query', out, '--n', '3', '--include-distances'], '{"vector": [4, 4]}\n{"item": 0}\n');
  t.equal(r.code, 0, r.stderr);
  const [byVector, byItem] = jsonLines(r.stdout) as Result[];
  t.same(byVector.ids, [2, 1, 0]);
  [1.4142, 2.2361, 2.8284].forEach((d, k) => t.ok(Math.abs(byVector.distances![k] - d) < 1e-4, `distance ${k}`));
  t.same(byItem.ids, [0, 1, 2]);
});

t.test('build notes when the service would not serve the name it writes', async (t) => {
  const dir = tempDir(t);
  const input = join(dir, 'three.fvecs');
  writeFvecs(input, [[2, 2], [3, 2], [3, 3]]);
  const odd = runCli(['build', input, join(dir, 'My_Index.ann'), '--metric', 'euclidean', '--trees', '2', '--threads', '1']);
  t.equal(odd.code, 0, 'the file is valid all the same');
  t.match(odd.stderr, /note: "nnserve serve" ignores My_Index\.ann: index names must match/);
  const fine = runCli(['build', input, join(dir, 'my-index.v2.ann'), '--metric', 'euclidean', '--trees', '2', '--threads', '1']);
  t.equal(fine.code, 0);
  t.notMatch(fine.stderr, /note:/, 'no note for a name the service serves');
});

t.test('npy (float64), dot', async (t) => {
  const dir = tempDir(t);
  const input = join(dir, 'dot.npy');
  writeNpy(input, [[2, 2], [3, 2], [3, 3]], { descr: '<f8' });
  const out = join(dir, 'dot.ann');
  const built = runCli(['build', input, out, '--metric', 'dot', '--trees', '4']);
  t.equal(built.code, 0, built.stderr);
  const r = runCli(['query', out, '--include-distances', '-n', '3'], '{"vector": [1, 1]}\n');
  t.same(jsonLines(r.stdout), [{ ids: [2, 1, 0], distances: [6, 5, 4] }], 'dot returns the largest dot products first');

  const fortran = join(dir, 'fortran.npy');
  writeNpy(fortran, [[1, 2], [3, 4]], { fortran: true });
  const refused = runCli(['build', fortran, join(dir, 'f.ann'), '--metric', 'dot']);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /Fortran \(column-major\) order/);
  t.notOk(readdirSync(dir).includes('f.ann'));
});

t.test('csv with integer ids and holes, manhattan', async (t) => {
  const dir = tempDir(t);
  const rows = randomRows(20, 4, 3);
  const input = join(dir, 'sparse.csv');
  writeFileSync(input, 'id,a,b,c,d\n' + rows.map((row, r) => `${r * 2},${row.join(',')}`).join('\n') + '\n');
  const out = join(dir, 'sparse.ann');
  const built = runCli(['build', input, out, '--metric', 'manhattan', '--trees', '3']);
  t.equal(built.code, 0, built.stderr);
  t.match(built.stderr, /\(20 items \+ 19 holes, 4 dimensions, manhattan, 3 trees/);
  t.match(readJson(join(dir, 'sparse.json')), { items: 39, ids: null });

  const inspected = runCli(['inspect', out]);
  t.equal(inspected.code, 0, inspected.stderr);
  t.match(JSON.parse(inspected.stdout), { items: 39, holes: 19, valid: true });

  const r = runCli(['query', out, '-n', '39'], `{"vector": ${JSON.stringify(rows[4])}}\n{"item": 8}\n{"item": 1}\n`);
  const [byVector, byItem, hole] = jsonLines(r.stdout) as Result[];
  t.equal(byVector.ids![0], 8, 'row 4 has id 8');
  t.ok(byVector.ids!.every((id) => (id as number) % 2 === 0), 'holes are never returned');
  t.equal(byItem.ids![0], 8);
  t.match(hole.error, /./, 'a hole cannot be queried');
  t.equal(r.code, 1);
});

t.test('csv with names and no header; hamming from jsonl', async (t) => {
  const dir = tempDir(t);
  const names = join(dir, 'fruit.csv');
  writeFileSync(names, 'apple,1,0,0\nbanana,0,1,0\ncherry,0,0,1\n"42",1,1,0\n');
  const out = join(dir, 'fruit.ann');
  t.equal(runCli(['build', names, out, '--metric', 'euclidean', '--trees', '2']).code, 0);
  t.equal(readFileSync(join(dir, 'fruit.ids'), 'utf8'), 'apple\nbanana\ncherry\n42\n');
  const r = runCli(['query', out, '-n', '2'], '{"item": "42"}\n{"vector": [0, 0.9, 0]}\n');
  const [a, b] = jsonLines(r.stdout) as Result[];
  t.equal(a.ids![0], '42');
  t.equal(b.ids![0], 'banana');

  const rows = randomRows(60, 16, 5).map((row) => row.map((v) => (v > 0 ? 1 : 0)));
  const bits = join(dir, 'bits.jsonl');
  writeJsonl(bits, rows.map((vector) => ({ vector })));
  const hamming = join(dir, 'bits.ann');
  const built = runCli(['build', bits, hamming, '--metric', 'hamming', '--trees', '4']);
  t.equal(built.code, 0, built.stderr);
  t.equal(statSync(hamming).size % 24, 0, 'hamming node of one uint64 word is 24 bytes');
  const q = runCli(['query', hamming, '--include-distances', '-n', '3', '-k', '100000'], JSON.stringify({ item: 9 }) + '\n');
  const result = jsonLines(q.stdout)[0] as Result;
  t.equal(result.distances![0], 0);
  const expected = rows.map((row) => row.reduce<number>((s, v, j) => s + (v !== rows[9][j] ? 1 : 0), 0)).sort((x, y) => x - y).slice(0, 3);
  t.same(result.distances, expected, 'hamming distances match a brute-force count');

  // Refused as by the HTTP API: a value that is not a bit, a vector whose distances would overflow.
  const notBits = runCli(['query', hamming], JSON.stringify({ vector: rows[1].map((v, j) => (j === 2 ? 2 : v)) }) + '\n');
  t.equal(notBits.code, 1);
  t.match(jsonLines(notBits.stdout)[0], { error: /vector\[2\] is 2; hamming vectors hold 0 or 1 per bit/ });
  const tooLong = runCli(['query', out], '{"vector": [3e19, 3e19, 0]}\n{"vector": [0, 1, 0]}\n');
  t.equal(tooLong.code, 1);
  const [refused, fine] = jsonLines(tooLong.stdout) as Result[];
  t.match(refused, { error: /vector is too long/ });
  t.equal(fine.ids![0], 'banana', 'the next line is still answered');
});

t.test('inspect rejects invalid files with exit 1', async (t) => {
  const dir = tempDir(t);
  const input = join(dir, 'ten.jsonl');
  writeJsonl(input, randomRows(50, 10, 9).map((vector) => ({ vector })));
  const out = join(dir, 'ten.ann');
  t.equal(runCli(['build', input, out, '--metric', 'angular', '--trees', '3']).code, 0);
  const bytes = readFileSync(out);

  // Same node size (52 bytes) under another metric: Annoy would load it, nnserve must not.
  const bare = join(dir, 'bare');
  mkdirSync(bare);
  copyFileSync(out, join(bare, 'ten.ann'));
  let r = runCli(['inspect', join(bare, 'ten.ann'), '--metric', 'euclidean', '--dimensions', '9']);
  t.equal(r.code, 1, 'angular f=10 read as euclidean f=9');
  t.match(JSON.parse(r.stdout), { valid: false });
  t.match(r.stderr, /nnserve inspect: .*ten\.ann is not valid: .*\(read as euclidean, 9 dimensions\)/);

  const truncated = join(bare, 'truncated.ann');
  writeFileSync(truncated, bytes.subarray(0, bytes.byteLength - 3));
  r = runCli(['inspect', truncated, '-m', 'angular', '-f', '10']);
  t.equal(r.code, 1, 'size not a multiple of the node size');
  t.match(r.stderr, /is not valid/);
  t.match(r.stderr, /the 52-byte node of an angular index with 10 dimensions: /, '"an angular" (it said "a angular")');

  const empty = join(bare, 'empty.ann');
  writeFileSync(empty, '');
  r = runCli(['inspect', empty, '-m', 'angular', '-f', '10']);
  t.equal(r.code, 1, 'empty file');

  const garbage = join(bare, 'garbage.ann');
  writeFileSync(garbage, Buffer.from(Array.from({ length: 52 * 40 }, (_, i) => (i * 7919) % 251)));
  r = runCli(['inspect', garbage, '-m', 'angular', '-f', '10']);
  t.equal(r.code, 1, 'garbage');

  // A valid structure that is not the file the manifest describes.
  const tampered = Buffer.from(bytes);
  tampered.writeFloatLE(tampered.readFloatLE(12) + 1, 12);
  writeFileSync(out, tampered);
  r = runCli(['inspect', out]);
  t.equal(r.code, 1);
  t.match(JSON.parse(r.stdout), { valid: true, manifest: { ok: false } });
  t.match(r.stderr, /sha256 of the file differs from the manifest/);

  r = runCli(['query', garbage, '-m', 'angular', '-f', '10'], '{"item": 0}\n');
  t.equal(r.code, 1, 'query refuses an invalid file too');
  t.match(r.stderr, /cannot open .*garbage\.ann as angular with 10 dimensions/);
});

/** Builds named.ann from 20 rows with ids doc-0..doc-19, to damage its ids file afterwards. */
function namedIndex(t: Test, seed: number): { out: string; idsFile: string; ids: string[] } {
  const dir = tempDir(t);
  const input = join(dir, 'named.jsonl');
  writeJsonl(input, randomRows(20, 4, seed).map((vector, i) => ({ id: `doc-${i}`, vector })));
  const out = join(dir, 'named.ann');
  t.equal(runCli(['build', input, out, '--metric', 'euclidean', '--trees', '2']).code, 0);
  const idsFile = join(dir, 'named.ids');
  return { out, idsFile, ids: readFileSync(idsFile, 'utf8').trimEnd().split('\n') };
}

/** 30 random 4-dimensional euclidean items with integer ids, built by the CLI into a fresh directory. */
function plainIndex(t: Test): { dir: string; out: string } {
  const dir = tempDir(t);
  const input = join(dir, 'v.fvecs');
  writeFvecs(input, randomRows(30, 4, 2));
  const out = join(dir, 'v.ann');
  t.equal(runCli(['build', input, out, '--metric', 'euclidean', '--trees', '2']).code, 0);
  return { dir, out };
}

t.test('inspect refuses an ids file the service would refuse: wrong length or a duplicate id', async (t) => {
  const { out, idsFile, ids } = namedIndex(t, 5);
  t.equal(runCli(['inspect', out]).code, 0, 'as built');

  writeFileSync(idsFile, [...ids.slice(0, -1), 'doc-0'].join('\n') + '\n');
  let r = runCli(['inspect', out]);
  t.equal(r.code, 1, 'duplicate id');
  t.match(r.stderr, /named\.ids: duplicate id "doc-0"/);

  writeFileSync(idsFile, ids.slice(1).join('\n') + '\n');
  r = runCli(['inspect', out]);
  t.equal(r.code, 1, 'one line short');
  t.match(r.stderr, /named\.ids has 19 lines, the index has 20 items/);
});

t.test('inspect refuses an item vector the service would refuse: NaN in an otherwise valid file', async (t) => {
  const { dir, out } = plainIndex(t);
  // As a faulty upstream would have handed it to Annoy: item 6's vector[3] (16-byte header, 4 floats).
  const bytes = readFileSync(out);
  bytes.writeFloatLE(NaN, 6 * 32 + 16 + 12);
  const bare = join(dir, 'bare');
  mkdirSync(bare);
  writeFileSync(join(bare, 'v.ann'), bytes);
  const r = runCli(['inspect', join(bare, 'v.ann'), '-m', 'euclidean', '-f', '4']);
  t.equal(r.code, 1);
  t.match(JSON.parse(r.stdout), { valid: true, unusableItem: /^item 6's vector\[3\] is NaN/ });
  t.match(r.stderr, /is not valid: item 6's vector\[3\] is NaN, .* \(nnserve serve refuses such a file\)/);
});

t.test('query refuses an ids file the service would refuse instead of answering null or wrong ids', async (t) => {
  const { out, idsFile, ids } = namedIndex(t, 6);

  writeFileSync(idsFile, ids.slice(0, 10).join('\n') + '\n');
  let r = runCli(['query', out, '--n', '20'], '{"item": "doc-1"}\n');
  t.equal(r.code, 1, 'ten lines short');
  t.equal(r.stdout, '', 'no answers with null ids');
  t.match(r.stderr, /named\.ids has 10 lines, the index has 20 items/);

  writeFileSync(idsFile, [...ids.slice(0, -1), 'doc-1'].join('\n') + '\n');
  r = runCli(['query', out], '{"item": "doc-1"}\n');
  t.equal(r.code, 1, 'duplicate id');
  t.match(r.stderr, /named\.ids: duplicate id "doc-1"/);
});

t.test('an ids file saved with a UTF-8 byte-order mark names its first item without it', async (t) => {
  const { out, idsFile, ids } = namedIndex(t, 8);
  // As Windows editors save it: the mark became part of item 0's id, so "doc-0" was unknown and
  // answers named item 0 "\uFEFFdoc-0".
  writeFileSync(idsFile, '\uFEFF' + ids.join('\r\n') + '\r\n');
  const r = runCli(['query', out, '--n', '1'], '{"item": "doc-0"}\n{"item": 0}\n');
  t.equal(r.code, 0, r.stdout);
  t.same(jsonLines(r.stdout), [{ ids: ['doc-0'] }, { ids: ['doc-0'] }]);
  t.equal(runCli(['inspect', out]).code, 0);
});

t.test('inspect: an ids file of another version (as many lines) disagrees with the manifest idsSha256', async (t) => {
  const { out, idsFile, ids } = namedIndex(t, 9);
  writeFileSync(idsFile, ids.map((id) => `old-${id}`).join('\n') + '\n');
  const r = runCli(['inspect', out]);
  t.equal(r.code, 1, r.stderr);
  t.match(JSON.parse(r.stdout), { manifest: { ok: false, problems: [/^ids file .*named\.ids does not match the manifest idsSha256/] } });
});

t.test('query: an ids file of another version (as many lines) is refused, as the service refuses it', async (t) => {
  const { out, idsFile, ids } = namedIndex(t, 10);
  writeFileSync(idsFile, ids.map((id) => `old-${id}`).join('\n') + '\n');
  const r = runCli(['query', out, '--n', '1'], '{"item": 0}\n');
  t.equal(r.code, 1, r.stdout);
  t.equal(r.stdout, '', 'no answer under the ids of another version (it was {"ids":["old-doc-0"]})');
  t.match(r.stderr, /^nnserve query: ids file .*named\.ids does not match the manifest idsSha256/);
});

t.test('query: an .ann of another version under the old manifest and ids file is refused, as the service refuses it', async (t) => {
  const current = namedIndex(t, 11);
  const other = namedIndex(t, 12);
  // Copied without its manifest: as many items, so the ids file still has a line for each.
  copyFileSync(other.out, current.out);
  const r = runCli(['query', current.out, '--n', '1'], '{"item": 0}\n');
  t.equal(r.code, 1, r.stdout);
  t.equal(r.stdout, '', 'no answer naming its items by the ids of another version');
  t.match(r.stderr, /^nnserve query: .*named\.ann is not the file .*named\.json describes \(its bytes or sha256 differ\), so the ids file .*named\.ids is another version's\n/);
});

t.test('a manifest saved with a UTF-8 byte-order mark is read', async (t) => {
  const { out } = plainIndex(t);
  const manifest = out.replace(/\.ann$/, '.json');
  // Hand-written beside an existing Annoy file in a Windows editor: it was "invalid JSON (Unexpected token ...)".
  writeFileSync(manifest, '\uFEFF' + JSON.stringify({ metric: 'euclidean', dimensions: 4 }));
  const r = runCli(['inspect', out]);
  t.equal(r.code, 0, r.stderr);
  t.match(JSON.parse(r.stdout), { metric: 'euclidean', dimensions: 4, valid: true, manifest: { ok: true } });
  t.same(jsonLines(runCli(['query', out, '--n', '1'], '{"item": 3}\n').stdout), [{ ids: [3] }]);
});

t.test('search_k must be -1 or a positive integer, as in the HTTP API', async (t) => {
  const { out } = plainIndex(t);

  for (const flag of [['--search-k', '0'], ['-k', '0'], ['--search-k=0'], ['-k', '-2']]) {
    const r = runCli(['query', out, ...flag], '{"item": 0}\n');
    t.equal(r.code, 2, `${flag.join(' ')} is a usage error`);
    t.equal(r.stdout, '', 'nothing answered');
    t.match(r.stderr, /nnserve query: --search-k must be -1 \(n × trees\) or a positive integer \(got -?\d\)\n\nUsage: nnserve query/);
  }

  const lines = ['{"item": 0, "search_k": 0}', '{"item": 0, "search_k": -2}', '{"item": 0, "search_k": 1.5}', '{"item": 0, "search_k": 5, "n": 1}', '{"item": 0, "search_k": -1, "n": 1}'];
  const r = runCli(['query', out], lines.join('\n') + '\n');
  t.equal(r.code, 1, 'exit 1 after a bad line');
  const results = jsonLines(r.stdout) as Result[];
  for (let i = 0; i < 3; i++) t.same(results[i], { error: '"search_k" must be -1 (n × trees) or a positive integer' }, lines[i]);
  t.same(results[3], { ids: [0] });
  t.same(results[4], { ids: [0] });
  t.match(JSON.parse(r.stderr), { queries: 2, errors: 3 });
});

t.test('a UTF-8 byte-order mark before the first query is not part of it', async (t) => {
  const { out } = plainIndex(t);
  // As Windows editors save a .jsonl ("UTF-8 with BOM"): the first line used to fail as invalid JSON.
  const r = runCli(['query', out, '-n', '1'], '\uFEFF{"item": 4}\r\n{"item": 5}\r\n');
  t.equal(r.code, 0, r.stdout);
  t.equal(r.stdout, '{"ids":[4]}\n{"ids":[5]}\n');
  // Only at the very start: later, it is a character like any other (and not JSON whitespace).
  const later = runCli(['query', out, '-n', '1'], '{"item": 4}\n\uFEFF{"item": 5}\n');
  t.equal(later.code, 1);
  t.match(later.stdout, /^\{"ids":\[4\]\}\n\{"error":"invalid JSON/);
});

t.test('inspect and query name the hyperplane that does not fit when a hamming file is read as angular', async (t) => {
  // Annoy's hamming file of 64 bits has 24-byte nodes, like angular f=3: every tree field fits.
  const dir = tempDir(t);
  const file = join(dir, 'bits.ann');
  copyFileSync(join(fixturesDir, 'hamming-b64-s1', 'index.ann'), file);
  let r = runCli(['inspect', file, '-m', 'angular', '-f', '3']);
  t.equal(r.code, 1);
  t.match(JSON.parse(r.stdout), { valid: false, error: /hyperplane has norm/ });
  t.match(r.stderr, /bits\.ann is not valid: .*split node \d+'s hyperplane has norm [-0-9.e+]+, not 1, .*\(a hamming index\?\)/);
  r = runCli(['query', file, '-m', 'angular', '-f', '3'], '{"item": 0}\n');
  t.equal(r.code, 1);
  t.match(r.stderr, /cannot open .*bits\.ann as angular with 3 dimensions: .*hyperplane has norm .*\(a hamming index\?\)/);
  t.equal(runCli(['inspect', file, '-m', 'hamming', '-f', '64']).code, 0, 'as what it is');
});

t.test('the build summary counts in the singular where there is one', async (t) => {
  const dir = tempDir(t);
  const input = join(dir, 'one.jsonl');
  // Item 2 alone: items 0 and 1 are holes.
  writeJsonl(input, [{ id: 2, vector: [0.5] }]);
  const built = runCli(['build', input, join(dir, 'one.ann'), '--metric', 'euclidean', '--trees', '1']);
  t.equal(built.code, 0, built.stderr);
  t.match(built.stderr, /\(1 item \+ 2 holes, 1 dimension, euclidean, 1 tree, /);
});
