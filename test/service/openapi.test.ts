import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { generateOpenApiYaml } from '../../src/service/openapi.js';
import { repoRoot } from '../helpers/fixtures.js';

t.test('openapi.yaml is what the route schemas generate (run `npm run openapi` when this fails)', async (t) => {
  const committed = readFileSync(join(repoRoot, 'openapi.yaml'), 'utf8');
  const generated = await generateOpenApiYaml();
  t.equal(committed, generated);
  for (const path of ['/v1/indexes', '/v1/indexes/{name}', '/v1/indexes/{name}/items/{id}/neighbors', '/v1/indexes/{name}/search', '/v1/indexes/{name}/search/batch', '/v1/indexes/{name}/items/{id}', '/v1/indexes/{name}/distance', '/v1/admin/reload', '/healthz', '/readyz', '/metrics']) {
    t.ok(generated.includes(`\n  ${path}:\n`), `documents ${path}`);
  }
});
