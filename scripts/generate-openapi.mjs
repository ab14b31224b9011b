#!/usr/bin/env node
// Writes openapi.yaml from the route schemas (run after the TypeScript build: `npm run openapi`).
// With --check, exits 1 when openapi.yaml is stale instead of writing it.
import { readFileSync, writeFileSync } from 'node:fs';

const { generateOpenApiYaml } = await import('../dist/src/service/openapi.js');
const target = new URL('../openapi.yaml', import.meta.url);
const yaml = await generateOpenApiYaml();
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {}
  if (current !== yaml) {
    process.stderr.write('openapi.yaml is stale: run `npm run openapi`\n');
    process.exit(1);
  }
} else {
  writeFileSync(target, yaml);
  process.stdout.write(`wrote openapi.yaml (${yaml.length} bytes)\n`);
}
