import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from './app.js';
import { defaults } from './config.js';

/**
 * openapi.yaml as the route schemas describe it, with default limits. Built from a real app over an
 * empty directory, so the document cannot drift from what the server validates and serialises.
 */
export async function generateOpenApiYaml(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'nnserve-openapi-'));
  const config = { ...defaults(), indexDir: dir, workers: 1, demo: false, docs: false, logLevel: 'silent', pollIntervalMs: 0, adminToken: 'documented' };
  const app = await buildApp({ config });
  try {
    await app.ready();
    return app.swagger({ yaml: true });
  } finally {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
