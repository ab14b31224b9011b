/**
 * GET /v1/indexes/{name}/items: the ids someone with curl can query, a page at a time, holes left
 * out, integer or string ids as the index has them.
 */
import t from 'tap';
import { AnnoyBuilder } from '../../src/annoy/index.js';
import { buildIndex, http, serve, tempDir, writeIndex, type Reply } from './helpers.js';

const dir = tempDir(t);
const wordIds = Array.from({ length: 25 }, (_, i) => `w${i}`);
writeIndex(dir, 'words', buildIndex('words', { metric: 'euclidean', dimensions: 4, items: 25, seed: 2, ids: wordIds }));
// Items 0, 1, 5, 6 and 9: Annoy's item count is 10, five of them holes.
const holey = new AnnoyBuilder('angular', 3, { seed: 1 });
const present = [0, 1, 5, 6, 9];
for (const item of present) holey.addItem(item, [item + 1, 1, -item]);
holey.build(2);
writeIndex(dir, 'holey', { ann: holey.save(), manifest: { metric: 'angular', dimensions: 3, annoyVersion: '1.17', ids: null }, ids: null, vectors: [] });
const server = await serve(t, dir, {});
const base = server.url;

/** Follows `next` from offset 0 with pages of `limit`; the ids in order, and the pages seen. */
async function walk(name: string, limit: number): Promise<{ ids: unknown[]; pages: number }> {
  const ids: unknown[] = [];
  let pages = 0;
  for (let offset: number | null = 0; offset !== null; pages++) {
    const r: Reply<{ ids: unknown[]; next: number | null }> = await http(base, 'GET', `/v1/indexes/${name}/items?offset=${offset}&limit=${limit}`);
    t.equal(r.status, 200);
    ids.push(...r.body.ids);
    offset = r.body.next;
  }
  return { ids, pages };
}

t.test('walking the pages gives every id once, in item order', async (t) => {
  t.same(await walk('words', 10), { ids: wordIds, pages: 3 }, 'string ids, three pages of 10, 10 and 5');
  t.same(await walk('words', 25), { ids: wordIds, pages: 1 }, 'one page that reaches the last item ends the walk');
  t.same(await walk('holey', 4), { ids: present, pages: 3 }, 'integer ids, holes left out (a page may hold fewer ids than it covers)');
  const first = await http(base, 'GET', '/v1/indexes/words/items');
  t.same(first.body, { index: 'words', version: 1, items: 25, ids: wordIds, next: null }, 'defaults: offset 0, up to 100');
  const page = await http(base, 'GET', '/v1/indexes/holey/items?offset=2&limit=4');
  t.same(page.body, { index: 'holey', version: 1, items: 10, ids: [5], next: 6 }, 'items 2..5 hold only item 5');
  t.same((await http(base, 'GET', '/v1/indexes/words/items?offset=500')).body, { index: 'words', version: 1, items: 25, ids: [], next: null }, 'past the end: empty, no next');
  t.same((await http(base, 'GET', '/v1/indexes/words/items?offset=20&limit=5')).body.next, null, 'a page ending exactly at the last item has no next');
  // Each listed id answers on the item route.
  for (const id of present) t.equal((await http(base, 'GET', `/v1/indexes/holey/items/${id}`)).status, 200, `item ${id}`);
});

t.test('bad pages are refused', async (t) => {
  for (const [qs, message] of [
    ['limit=0', 'querystring/limit must be >= 1'],
    ['limit=10001', 'querystring/limit must be <= 10000'],
    ['offset=-1', 'querystring/offset must be >= 0'],
    ['offset=1e3', 'querystring/offset must be an integer written in decimal digits'],
    ['page=2', 'querystring has an unknown field "page"'],
  ]) {
    const r = await http(base, 'GET', `/v1/indexes/words/items?${qs}`);
    t.equal(r.status, 400, qs);
    t.equal(r.body.message, message, qs);
  }
  const unknown = await http(base, 'GET', '/v1/indexes/nope/items');
  t.equal(unknown.status, 404);
  t.equal(unknown.body.message, 'index "nope" not found');
});
