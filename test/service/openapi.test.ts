import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { generateOpenApiYaml } from '../../src/service/openapi.js';
import { ensureDemoIndex } from '../../src/service/registry/demo.js';
import { repoRoot } from '../helpers/fixtures.js';
import { http, serve, tempDir } from './helpers.js';

t.test('openapi.yaml is what the route schemas generate (run `npm run openapi` when this fails)', async (t) => {
  const committed = readFileSync(join(repoRoot, 'openapi.yaml'), 'utf8');
  const generated = await generateOpenApiYaml();
  t.equal(committed, generated);
  t.notMatch(generated, /Default Response/, 'every response has a description of its own');
  for (const path of ['/v1/indexes', '/v1/indexes/{name}', '/v1/indexes/{name}/items/{id}/neighbors', '/v1/indexes/{name}/search', '/v1/indexes/{name}/search/batch', '/v1/indexes/{name}/items/{id}', '/v1/indexes/{name}/distance', '/v1/admin/reload', '/healthz', '/readyz', '/metrics']) {
    t.ok(generated.includes(`\n  ${path}:\n`), `documents ${path}`);
  }
});

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  example?: unknown;
}
interface Operation {
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { example?: unknown; examples?: Record<string, { value: unknown }> }> };
}

/** The bodies Swagger UI offers: one `example`, or several under `examples`. */
function bodyExamples(op: Operation): unknown[] {
  const media = op.requestBody?.content['application/json'];
  if (!media) return [undefined];
  return media.examples ? Object.values(media.examples).map((e) => e.value) : [media.example];
}

t.test("the document's examples, as Swagger UI's Try-it-out sends them, answer 200 on the demo index", async (t) => {
  const dir = tempDir(t);
  ensureDemoIndex(dir);
  const server = await serve(t, dir, { workers: 1 });
  const doc = (await http(server.url, 'GET', '/openapi.json')).body as { paths: Record<string, Record<string, Operation>> };
  let tried = 0;
  for (const [template, operations] of Object.entries(doc.paths)) {
    if (!template.startsWith('/v1/indexes/{name}')) continue;
    for (const [method, op] of Object.entries(operations)) {
      const params = op.parameters ?? [];
      let path = template;
      const query = new URLSearchParams();
      for (const p of params) {
        if (p.in === 'path') {
          t.ok(p.example !== undefined, `${method} ${template}: {${p.name}} has an example`);
          path = path.replace(`{${p.name}}`, encodeURIComponent(String(p.example)));
        } else if (p.in === 'query' && p.example !== undefined) {
          query.set(p.name, String(p.example));
        }
      }
      const url = query.size > 0 ? `${path}?${query}` : path;
      for (const body of bodyExamples(op)) {
        if (op.requestBody) t.ok(body !== undefined, `${method} ${template}: the body has an example`);
        const r = await http(server.url, method.toUpperCase() as 'GET' | 'POST', url, body);
        t.equal(r.status, 200, `${method.toUpperCase()} ${url} ${JSON.stringify(body)?.slice(0, 60)}: ${r.text.slice(0, 200)}`);
        tried++;
      }
    }
  }
  t.equal(tried, 8, 'every per-index operation was tried, and each example of the search body');
  const [byVector, byItem] = bodyExamples(doc.paths['/v1/indexes/{name}/search'].post);
  const search = await http(server.url, 'POST', '/v1/indexes/demo/search', byVector);
  t.equal(search.body.ids[0], 'item-42', 'the example vector finds the item it was taken from');
  const similar = await http(server.url, 'POST', '/v1/indexes/demo/search', byItem);
  t.equal(similar.body.ids.length, 5);
  t.notOk(similar.body.ids.includes('item-42') || similar.body.ids.includes('item-7192'), 'the item example leaves out what it excludes');
});

t.test('the statuses a body route answers for a body it refuses are documented (415 for a non-JSON or compressed body)', async (t) => {
  const dir = tempDir(t);
  ensureDemoIndex(dir);
  const server = await serve(t, dir, { workers: 1 });
  const doc = (await http(server.url, 'GET', '/openapi.json')).body as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
  for (const path of ['/v1/indexes/demo/search', '/v1/indexes/demo/search/batch']) {
    const documented = doc.paths[path.replace('/demo/', '/{name}/')].post.responses;
    const plain = await http(server.url, 'POST', path, '{}', { 'content-type': 'text/plain' });
    const gzip = await http(server.url, 'POST', path, '{}', { 'content-encoding': 'gzip' });
    for (const r of [plain, gzip]) {
      t.equal(r.status, 415, path);
      t.ok(documented[String(r.status)], `POST ${path}: ${r.status} is in the document`);
    }
  }
});
