import t from 'tap';
import { buildIndex, http, metric, serve, tempDir, writeIndex } from './helpers.js';

// Angular, 40 dimensions: a leaf holds up to 42 items (Annoy's K for this node size), so a search
// may score up to search_k + 42 candidates. A budget of 5,000 is 125 candidates of 40 dimensions:
// search_k 50 (up to 92) runs on the event loop; search_k 100 (100 × 40 = 4,000 alone, but up to
// 142 candidates) must go to a worker.
const dir = tempDir(t);
const TREES = 2;
writeIndex(dir, 'w', buildIndex('w', { metric: 'angular', dimensions: 40, items: 400, trees: TREES, seed: 5 }));
const server = await serve(t, dir, { workers: 1, inlineMaxWork: 5000 });
const vector = Array.from({ length: 40 }, (_, d) => Math.sin(d));

t.test('queries run inline only when search_k plus one leaf fits the budget', async (t) => {
  const search = (searchK: number) => http(server.url, 'POST', '/v1/indexes/w/search', { vector, n: 5, search_k: searchK });
  t.equal((await search(50)).status, 200);
  t.equal((await search(100)).status, 200);
  t.equal((await search(100)).status, 200);
  // Default search_k: n × trees = 20, plus a leaf: inline.
  t.equal((await http(server.url, 'GET', '/v1/indexes/w/items/3/neighbors?n=10')).status, 200);

  const text = (await http(server.url, 'GET', '/metrics')).text;
  t.equal(metric(text, 'nnserve_queries_total', { index: 'w', kind: 'vector' }), 3);
  t.equal(metric(text, 'nnserve_queries_total', { index: 'w', kind: 'item' }), 1);
  t.equal(metric(text, 'nnserve_queries_inline_total', { index: 'w' }), 2, 'search_k 50 and the by-item query inline; both search_k 100 queries on the pool');
});
