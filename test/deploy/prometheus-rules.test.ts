import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { buildIndex, http, serve, tempDir, writeIndex } from '../service/helpers.js';
import { REPO } from './k8s-manifests.js';

// promtool (CI's container checks) proves the alerts fire on the series they expect; this proves
// those series are ones nnserve exposes, so renaming a metric cannot silently disarm an alert.

interface Rule {
  alert: string;
  expr: string;
}
const read = (file: string) => readFileSync(join(REPO, file), 'utf8');
const rules = (parse(read('deploy/prometheus/alerts.yml')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

t.test('every metric an alert reads is one nnserve exposes', async (t) => {
  const dir = tempDir(t);
  writeIndex(dir, 'words', buildIndex('words', { dimensions: 4, items: 40 }));
  const server = await serve(t, dir);
  const exposed = new Set([...(await http(server.url, 'GET', '/metrics')).text.matchAll(/^# TYPE (\S+) (\w+)$/gm)].flatMap(([, name, type]) => (type === 'histogram' ? [`${name}_bucket`, `${name}_count`, `${name}_sum`] : [name])));
  t.ok(rules.length >= 5, `${rules.length} alerts`);
  for (const rule of rules) {
    const names = [...new Set(rule.expr.match(/\bnnserve_\w+/g) ?? [])];
    t.ok(names.length > 0 || /\bup\{/.test(rule.expr), `${rule.alert} reads a metric`);
    for (const name of names) t.ok(exposed.has(name), `${rule.alert}: ${name} is exposed`);
  }
});

t.test('Prometheus loads the rules wherever it runs: prometheus.yml names them, compose mounts them', async (t) => {
  const config = parse(read('deploy/prometheus/prometheus.yml')) as { rule_files?: string[] };
  t.same(config.rule_files, ['alerts.yml']);
  const compose = parse(read('docker-compose.yml')) as { services: { prometheus: { volumes: string[] } } };
  t.ok(compose.services.prometheus.volumes.includes('./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro'), 'compose mounts alerts.yml beside prometheus.yml');
});
