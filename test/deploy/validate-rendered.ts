import { readFileSync } from 'node:fs';
import { parseManifests, schemaProblem, semanticProblems } from './k8s-manifests.js';
import { typeProblems } from './k8s-typecheck.js';

/**
 * `node dist/test/deploy/validate-rendered.js <file>`: the same checks as kubernetes.test.ts, run
 * on `kubectl kustomize` output, so what kustomize actually renders is validated too.
 */
const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: validate-rendered <rendered.yaml>\n');
  process.exit(2);
}
const manifests = parseManifests(file, readFileSync(file, 'utf8'));
const problems = [
  ...(await Promise.all(manifests.map(schemaProblem))).filter((p): p is string => p !== null),
  ...typeProblems(manifests),
  ...semanticProblems(manifests),
];
for (const p of problems) process.stderr.write(`${p}\n`);
process.stdout.write(`${manifests.length} rendered objects (${manifests.map((m) => m.doc.kind).join(', ')}): ${problems.length} problems\n`);
process.exitCode = problems.length === 0 ? 0 : 1;
