import t, { type Test } from 'tap';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, readVectors } from '../../src/input/read-vectors.js';
import { f32, randomRows, tempDir, writeFvecs, writeJsonl, writeNpy } from './fixtures.js';

const rows = randomRows(5, 3);

async function rejects(t: Test, path: string, pattern: RegExp): Promise<void> {
  await t.rejects(readVectors(path), { name: 'InputError', message: pattern }, String(pattern));
}

t.test('fvecs', async (t) => {
  const dir = tempDir(t);
  const ok = join(dir, 'ok.fvecs');
  writeFvecs(ok, rows);
  const set = await readVectors(ok);
  t.equal(set.dimensions, 3);
  t.same(Array.from(set.vectors), f32(rows));
  t.equal(set.ids, null);

  const truncated = join(dir, 'truncated.fvecs');
  writeFvecs(truncated, rows);
  writeFileSync(truncated, Buffer.concat([Buffer.from(readFileSync(ok)), Buffer.alloc(3)]));
  await rejects(t, truncated, /not a multiple of the row size 16/);

  const ragged = join(dir, 'ragged.fvecs');
  const bytes = Buffer.from(readFileSync(ok));
  bytes.writeInt32LE(7, 2 * 16);
  writeFileSync(ragged, bytes);
  await rejects(t, ragged, /row 3 declares 7 dimensions, row 1 declares 3/);

  const nan = join(dir, 'nan.fvecs');
  writeFvecs(nan, [[1, 2, 3], [4, NaN, 6]]);
  await rejects(t, nan, /row 2: value 2 is NaN/);

  const inf = join(dir, 'inf.fvecs');
  writeFvecs(inf, [[1, 2, Infinity]]);
  await rejects(t, inf, /row 1: value 3 is Infinity/);

  const empty = join(dir, 'empty.fvecs');
  writeFileSync(empty, '');
  await rejects(t, empty, /empty or truncated/);
});

t.test('npy', async (t) => {
  const dir = tempDir(t);
  for (const [name, options] of [
    ['f4', {}],
    ['f8', { descr: '<f8' }],
    ['big-endian', { descr: '>f4' }],
    ['version-2', { version: 2 }],
  ] as const) {
    const path = join(dir, `${name}.npy`);
    writeNpy(path, rows, options);
    const set = await readVectors(path);
    t.equal(set.dimensions, 3, name);
    t.same(Array.from(set.vectors), f32(rows), name);
    t.equal(set.ids, null, name);
  }
  const cases: Array<[string, Parameters<typeof writeNpy>[2], RegExp]> = [
    ['fortran', { fortran: true }, /Fortran \(column-major\) order/],
    ['int', { descr: '<i4' }, /dtype <i4 is not supported; save float32 or float64/],
    ['half', { descr: '<f2', data: Buffer.alloc(30) }, /dtype <f2 is not supported/],
    ['one-d', { shape: '(15,)' }, /expected a 2-D array/],
    ['three-d', { shape: '(5, 3, 1)' }, /expected a 2-D array/],
    ['truncated', { data: Buffer.alloc(40) }, /truncated: shape \(5, 3\) needs 60 data bytes, the file has 40/],
    ['structured', { descr: "[('a', '<f4')]" as string }, /unsupported dtype/],
  ];
  for (const [name, options, pattern] of cases) {
    const path = join(dir, `${name}.npy`);
    writeNpy(path, rows, options);
    await rejects(t, path, pattern);
  }
  const nan = join(dir, 'nan.npy');
  writeNpy(nan, [[1, 2], [3, NaN]]);
  await rejects(t, nan, /row 2: value 2 is NaN/);

  const notNpy = join(dir, 'text.npy');
  writeFileSync(notNpy, 'hello world, not numpy');
  await rejects(t, notNpy, /not a \.npy file/);
});

t.test('jsonl', async (t) => {
  const dir = tempDir(t);
  const write = (name: string, records: unknown[]): string => {
    const path = join(dir, name);
    writeJsonl(path, records);
    return path;
  };
  let set = await readVectors(write('int.jsonl', rows.map((vector, i) => ({ id: i * 2, vector }))));
  t.same(set.ids, [0, 2, 4, 6, 8]);
  t.same(Array.from(set.vectors), f32(rows));
  t.equal(set.dimensions, 3);

  set = await readVectors(write('names.jsonl', rows.map((vector, i) => ({ id: `doc-${i}`, vector }))));
  t.same(set.ids, ['doc-0', 'doc-1', 'doc-2', 'doc-3', 'doc-4']);

  set = await readVectors(write('mixed.jsonl', [{ id: 7, vector: [1] }, { id: 'x', vector: [2] }, { id: 0, vector: [3] }]));
  t.same(set.ids, ['7', 'x', '0'], 'a mix of integers and strings becomes all strings, in input order');

  set = await readVectors(write('noids.jsonl', rows.map((vector) => ({ vector }))));
  t.equal(set.ids, null);

  const blank = join(dir, 'blank.jsonl');
  writeFileSync(blank, '\n{"id": 1, "vector": [1, 2]}\r\n\n  \n{"id": 0, "vector": [3, 4]}');
  set = await readVectors(blank);
  t.same(set.ids, [1, 0], 'blank lines, CRLF and a missing final newline are fine');

  const bom = join(dir, 'bom.jsonl');
  writeFileSync(bom, '\uFEFF{"id": "a", "vector": [1, 2]}\r\n{"id": "b", "vector": [3, 4]}\r\n');
  set = await readVectors(bom);
  t.same(set.ids, ['a', 'b'], 'a UTF-8 byte-order mark is skipped');

  await rejects(t, write('ragged.jsonl', [{ id: 0, vector: [1, 2, 3] }, { id: 1, vector: [1, 2, 3] }, { id: 2, vector: [1, 2] }]), /line 3: vector has 2 values, earlier rows have 3/);
  await rejects(t, write('null.jsonl', [{ id: 0, vector: [1, null] }]), /line 1: value 2 is null/);
  await rejects(t, write('text.jsonl', [{ id: 0, vector: [1, '2'] }]), /line 1: value 2 is the text "2"/);
  const overflow = join(dir, 'overflow.jsonl');
  writeFileSync(overflow, '{"id": 0, "vector": [1, 2]}\n{"id": 1, "vector": [1e999, 2]}\n');
  await rejects(t, overflow, /line 2: value 1 is Infinity/);
  await rejects(t, write('negative.jsonl', [{ id: -1, vector: [1] }]), /line 1: id -1 is not allowed/);
  await rejects(t, write('fraction.jsonl', [{ id: 1.5, vector: [1] }]), /id 1.5 is not allowed/);
  await rejects(t, write('huge.jsonl', [{ id: 2 ** 31, vector: [1] }]), /id 2147483648 is not allowed/);
  await rejects(t, write('dup.jsonl', [{ id: 3, vector: [1] }, { id: 4, vector: [1] }, { id: 3, vector: [2] }]), /line 3: duplicate id 3 \(first seen at line 1\)/);
  await rejects(t, write('dupnames.jsonl', [{ id: 'a', vector: [1] }, { id: 'a', vector: [1] }]), /line 2: duplicate id "a"/);
  await rejects(t, write('dupmixed.jsonl', [{ id: 5, vector: [1] }, { id: '5', vector: [1] }]), /are the same name once mixed ids are read as strings/);
  await rejects(t, write('newline.jsonl', [{ id: 'a\nb', vector: [1] }]), /line 1: id contains a line break/);
  await rejects(t, write('emptyid.jsonl', [{ id: '', vector: [1] }]), /line 1: empty id/);
  await rejects(t, write('bomid.jsonl', [{ id: '\uFEFFdoc-0', vector: [1] }, { id: 'doc-1', vector: [2] }]), /line 1: the first id starts with a byte-order mark \(U\+FEFF\)/);
  await rejects(t, write('surrogate.jsonl', [{ id: 'a😀', vector: [1] }, { id: 'a\uD83D', vector: [2] }]), /line 2: id "a\\ud83d" holds half of a UTF-16 surrogate pair/);
  set = await readVectors(write('bomlater.jsonl', [{ id: 'doc-0', vector: [1] }, { id: '\uFEFFdoc-1', vector: [2] }]));
  t.same(set.ids, ['doc-0', '\uFEFFdoc-1'], 'past the first line of the ids file the mark is kept');
  await rejects(t, write('boolid.jsonl', [{ id: true, vector: [1] }]), /id must be an integer or a string/);
  await rejects(t, write('someids.jsonl', [{ id: 1, vector: [1] }, { vector: [1] }]), /line 2: has no "id" but earlier lines do/);
  await rejects(t, write('novector.jsonl', [{ id: 1, values: [1] }]), /"vector" must be an array/);
  await rejects(t, write('emptyvec.jsonl', [{ id: 1, vector: [] }]), /empty vector/);
  const bad = join(dir, 'bad.jsonl');
  writeFileSync(bad, '{"id": 1, "vector": [1]}\n{"id": 2, "vector": [1\n');
  await rejects(t, bad, /line 2: invalid JSON/);
  const empty = join(dir, 'empty.jsonl');
  writeFileSync(empty, '\n\n');
  await rejects(t, empty, /no vectors found/);
});

t.test('csv', async (t) => {
  const dir = tempDir(t);
  const write = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  let set = await readVectors(write('plain.csv', '1,2,3\n4,5,6\n'));
  t.equal(set.ids, null, 'numbers only: no header, no id column');
  t.same(Array.from(set.vectors), [1, 2, 3, 4, 5, 6]);

  set = await readVectors(write('header.csv', 'x,y,z\n1,2,3\n4,5,6\n'));
  t.equal(set.ids, null, 'a header of names over numbers: header skipped, no ids');
  t.equal(set.dimensions, 3);

  set = await readVectors(write('idheader.csv', 'ID,x,y\n3,1,2\n1,4,5\n'));
  t.same(set.ids, [3, 1], 'a header naming the first column "id" makes integer ids');
  t.same(Array.from(set.vectors), [1, 2, 4, 5]);

  set = await readVectors(write('idspaced.csv', '" id ",x,y\n3,1,2\n'));
  t.same(set.ids, [3], 'a quoted " id " header names the id column too (it made the header, then the ids were read as values)');
  t.same(Array.from(set.vectors), [1, 2]);

  set = await readVectors(write('idnumeric.csv', 'id,0,1\n0,1.5,2\n1,-3e2,4\n'));
  t.same(set.ids, [0, 1], '"id" first makes a header even when the other names are numbers');
  t.same(Array.from(set.vectors), [1.5, 2, -300, 4]);

  // What pandas' DataFrame.to_csv writes by default: the index first, under an empty header cell.
  set = await readVectors(write('pandas.csv', ',x,y\n0,0.5,1\n1,1.5,2\n2,2.5,3\n'));
  t.same(set.ids, [0, 1, 2], 'an unnamed first header cell heads the id column (it was read as one more dimension)');
  t.same(Array.from(set.vectors), [0.5, 1, 1.5, 2, 2.5, 3]);
  set = await readVectors(write('pandasnumbered.csv', ',0,1\n0,0.5,1\n1,1.5,2\n'));
  t.same(set.ids, [0, 1], 'so does one above numbered columns (the line was data with an "empty id")');
  t.same(Array.from(set.vectors), [0.5, 1, 1.5, 2]);
  // The same DataFrame under a named index: the header was item "word" with the vector [0, 1, 2].
  set = await readVectors(write('pandasnamed.csv', 'word,0,1,2\ncat,0.5,1,2\n17,1.5,2,3\n'));
  t.same(set.ids, ['cat', '17'], 'a name above columns numbered 0, 1, 2 heads the id column');
  t.same(Array.from(set.vectors), [0.5, 1, 2, 1.5, 2, 3]);
  set = await readVectors(write('pandasnamedint.csv', 'item,0,1,2\n5,0.5,1,2\n9,1.5,2,3\n'));
  t.same(set.ids, [5, 9], 'integer index values under it are item ids');
  set = await readVectors(write('bits.csv', 'a,0,1\nb,1,1\n'));
  t.same(set.ids, ['a', 'b'], 'two such columns are a row of bits, not a header');
  set = await readVectors(write('rwritecsv.csv', '"","x","y"\n"1",0.5,1\n"2",1.5,2\n'));
  t.same(set.ids, ['1', '2'], "R's write.csv: quoted row names stay names");

  set = await readVectors(write('names.csv', 'apple, 1, 2\n"pear, ripe",3,4\r\n'));
  t.same(set.ids, ['apple', 'pear, ripe'], 'a non-numeric first cell makes names; quotes may hold commas');
  t.same(Array.from(set.vectors), [1, 2, 3, 4]);

  set = await readVectors(write('quoted.csv', '"1",0.5\n"2",0.25\n'));
  t.same(set.ids, ['1', '2'], 'quoted integers are names');

  set = await readVectors(write('allquoted.csv', '"a","0.5","1"\n"b","1.5","2"\n'));
  t.same(set.ids, ['a', 'b'], 'quoted numbers after the first cell are data, not a header (writers that quote every cell)');
  t.same(Array.from(set.vectors), [0.5, 1, 1.5, 2]);

  set = await readVectors(write('allquotedheader.csv', '"name","x","y"\n"a","0.5","1"\n'));
  t.same(set.ids, ['a'], 'a quoted header of names is still a header');
  t.same(Array.from(set.vectors), [0.5, 1]);

  set = await readVectors(write('bom.csv', '\uFEFF"k1",1,2\r\n"k2",3,4\r\n'));
  t.same(set.ids, ['k1', 'k2'], 'a UTF-8 byte-order mark does not become part of the first id');

  set = await readVectors(write('mixed.csv', 'name,a\nfoo,1\n12,2\n'));
  t.same(set.ids, ['foo', '12'], 'names mixed with integers are all names');

  set = await readVectors(write('escaped.csv', '"say ""hi""",1\n'));
  t.same(set.ids, ['say "hi"']);

  await rejects(t, write('nan.csv', '1,2\n3,nan\n'), /line 2: value 2 is NaN/);
  await rejects(t, write('inf.csv', 'id,a\n0,-Infinity\n'), /line 2: value 1 is -Infinity/);
  await rejects(t, write('ragged.csv', '1,2,3\n4,5,6\n7,8\n'), /line 3: vector has 2 values, earlier rows have 3/);
  await rejects(t, write('emptycell.csv', '1,,3\n'), /line 1: value 2 is the text ""/);
  await rejects(t, write('text.csv', 'a,1,2\nb,1,x\n'), /line 2: value 2 is the text "x"/);
  await rejects(t, write('dup.csv', 'id,a\n1,1\n1,2\n'), /line 3: duplicate id 1 \(first seen at line 2\)/);
  await rejects(t, write('negative.csv', 'id,a\n-1,1\n'), /id -1 is not allowed/);
  await rejects(t, write('unterminated.csv', '"abc,1\n'), /line 1: unterminated quoted cell/);
  await rejects(t, write('idonly.csv', 'id\n1\n'), /only an id, no vector values/);
  await rejects(t, write('headeronly.csv', 'x,y\n'), /no vectors found/);
  // A bad cell in the first row used to make that row a "header": dropped, and every item shifted by one.
  await rejects(t, write('badfirstrow.csv', '0.1,0.2,N/A\n0.3,0.4,0.5\n0.6,0.7,0.8\n'), /badfirstrow\.csv: line 1: neither a header nor a row of values: cell 3 is the text "N\/A", cell 2 the number 0\.2;/);
  await rejects(t, write('mixedheader.csv', 'name,x,2\na,1,2\n'), /line 1: neither a header nor a row of values: cell 2 is the text "x", cell 3 the number 2;/);
  // Semicolon- or tab-separated files used to read as one-cell lines: a "header", then "only an id".
  await rejects(t, write('semicolons.csv', '1;2;3\n4;5;6\n'), /semicolons\.csv: line 1: no commas: cells in a \.csv are separated by commas, this line by semicolons$/);
  // np.savetxt's default delimiter is a space.
  await rejects(t, write('spaces.csv', '1.000000000000000000e+00 2.000000000000000000e+00\n3.0e+00 4.0e+00\n'), /spaces\.csv: line 1: no commas: .* this line by spaces$/);
  set = await readVectors(write('spacedheader.csv', 'product name\n1.5\n2\n'));
  t.same(Array.from(set.vectors), [1.5, 2], 'a one-column header of words between spaces is still a header');
  await rejects(t, write('tabs.csv', 'id\tx\na\t1\n'), /line 1: no commas: .* this line by tabs$/);
  set = await readVectors(write('onecolumn.csv', 'x\n1.5\n2\n'));
  t.same(Array.from(set.vectors), [1.5, 2], 'one column of numbers under a header is still fine');
});

t.test('text that is not UTF-8 is refused with its line, not read as U+FFFD', async (t) => {
  const dir = tempDir(t);
  // As Excel saves "CSV (Comma delimited)" on Windows: the id used to become "caf\uFFFD".
  const csv = join(dir, 'latin1.csv');
  writeFileSync(csv, Buffer.from('name,x\ncafe,1\ncaf\xe9,2\n', 'latin1'));
  await rejects(t, csv, /latin1\.csv: line 3: not UTF-8 text; save the file as UTF-8/);
  const jsonl = join(dir, 'latin1.jsonl');
  writeFileSync(jsonl, Buffer.from('{"id": "na\xefve", "vector": [1]}\n', 'latin1'));
  await rejects(t, jsonl, /latin1\.jsonl: line 1: not UTF-8 text/);

  // UTF-8 passes as it is, whatever ends the lines; "é" here straddles the reader's 64 KiB chunks.
  const long = 'x'.repeat(65536 - 'name,x\n'.length - 1);
  const utf8 = join(dir, 'utf8.csv');
  writeFileSync(utf8, `\uFEFFname,x\r\n${long}é,1\rnaïve,2\n\n日本,3`);
  const set = await readVectors(utf8);
  t.same(set.ids, [`${long}é`, 'naïve', '日本']);
  t.same(Array.from(set.vectors), [1, 2, 3]);
});

t.test('an input that is a directory is named in the error', async (t) => {
  const dir = tempDir(t);
  const folder = join(dir, 'folder.npy');
  mkdirSync(folder);
  await rejects(t, folder, /folder\.npy is a directory, not a file of vectors$/);
});

t.test('unknown extension', async (t) => {
  await t.rejects(readVectors('/nonexistent/vectors.parquet'), new InputError('/nonexistent/vectors.parquet: unknown input format ".parquet"; expected one of .fvecs, .npy, .jsonl, .csv'));
});
