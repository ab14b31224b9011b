// An index whose item vectors make distances meaningless (NaN, infinite) is refused, at start-up
// and as a replacement, with the item and its id in the log; what was being served stays.
import t from 'tap';
import { serveLogged } from '../reliability/helpers.js';
import { buildIndex, http, metric, tempDir, waitFor, writeIndex } from './helpers.js';

const ids = Array.from({ length: 100 }, (_, i) => `x-${i}`);

/** An index of 100 items of 4 dimensions whose item 17 has the given vector[1]. */
function withItem17(name: string, value: number) {
  const built = buildIndex(name, { dimensions: 4, items: 100, trees: 3, ids });
  const ann = built.ann.slice();
  // Euclidean nodes of 4 dimensions: a 16-byte header, then the vector.
  new DataView(ann.buffer).setFloat32(17 * 32 + 16 + 4, value, true);
  return { ...built, ann };
}

t.test('a NaN or overflowing item vector: rejected at start-up and as a replacement', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'good', buildIndex('good', { dimensions: 4, items: 100, trees: 3, ids }));
  writeIndex(dir, 'nan', withItem17('nan', NaN));
  const { server, logs } = await serveLogged(t, dir);

  const listed = await http(server.url, 'GET', '/v1/indexes');
  t.same(listed.body.indexes.map((i: { name: string }) => i.name), ['good']);
  t.equal((await http(server.url, 'GET', '/v1/indexes/nan/items/x-1/neighbors')).status, 404);
  // Never served: the line said it kept "the version being served" (changed with that wording).
  const [rejection] = logs.find('index rejected; nothing served under this name', { index: 'nan', servingVersion: null });
  t.match(rejection?.err, /^nan\.ann: item 17's vector\[1\] is NaN, .* \(id "x-17"\); rebuild the index without it$/);

  // A replacement of the served index with a vector past the float32 range: version 1 keeps serving.
  writeIndex(dir, 'good', withItem17('good', 3e38));
  const rejected = () => http(server.url, 'GET', '/metrics').then((r) => metric(r.text, 'nnserve_index_swaps_total', { index: 'good', result: 'rejected' }));
  await waitFor(async () => ((await rejected()) === 1 ? true : undefined));
  const r = await http(server.url, 'GET', '/v1/indexes/good/items/x-17/neighbors?n=3&include_distances=true');
  t.equal(r.status, 200);
  t.equal(r.body.version, 1);
  t.ok(r.body.distances.every((d: unknown) => typeof d === 'number'), 'finite distances from the version still served');
  const [second] = logs.find('index rejected; keeping the version being served', { index: 'good' });
  t.match(second?.err, /item 17's vector is too long: its squared length .* \(id "x-17"\)/);
});
