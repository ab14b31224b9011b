import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { REPO } from './k8s-manifests.js';

const read = (file: string) => readFileSync(join(REPO, file), 'utf8');

/** Dockerfile instructions of the last stage, continuation lines joined, comments dropped. */
function finalStage(dockerfile: string): { instruction: string; args: string }[] {
  const lines = dockerfile.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const all = lines.map((l) => {
    const [instruction, ...rest] = l.split(/\s+/);
    return { instruction: instruction.toUpperCase(), args: rest.join(' ') };
  });
  const last = all.map((x) => x.instruction).lastIndexOf('FROM');
  return all.slice(last);
}

t.test('Dockerfile: the runtime contract', async (t) => {
  const text = read('Dockerfile');
  t.notMatch(text, /^#\s*syntax=/m, 'no syntax directive (BuildKit would try to pull it)');
  t.ok((text.match(/^FROM /gm) ?? []).length >= 2, 'multi-stage');
  t.match(text, /npm ci/, 'reproducible install from the lockfile');
  t.match(text, /npm (ci|prune) --omit=dev/, 'runtime gets production dependencies only');
  const stage = finalStage(text);
  const get = (i: string) => stage.filter((x) => x.instruction === i).map((x) => x.args);
  t.same(get('CMD').map((a) => JSON.parse(a) as unknown), [['node', 'dist/src/cli/main.js', 'serve']], 'exec-form CMD: node is PID 1 and gets SIGTERM');
  const user = get('USER').at(-1) ?? '';
  t.ok(user !== '' && !/^(root|0)(:|$)/.test(user), `runs as a non-root user (${user})`);
  t.match(get('HEALTHCHECK').join(' '), /CMD \[.*\/healthz/, 'exec-form HEALTHCHECK on /healthz');
  t.same(get('EXPOSE'), ['8080']);
  t.match(get('ENV').join(' '), /NNSERVE_INDEX_DIR=\/indexes/);
  t.same(get('ADD'), [], 'COPY only');
});

t.test('.dockerignore keeps local state out of the build context', async (t) => {
  const entries = read('.dockerignore').split('\n').map((l) => l.trim());
  for (const e of ['node_modules', 'dist', '.git', 'indexes']) t.ok(entries.includes(e), e);
});

t.test('docker-compose.yml and the Prometheus config agree', async (t) => {
  const compose = parse(read('docker-compose.yml')) as Record<string, any>;
  t.notOk('name' in compose, 'no top-level name: (Compose v1 rejects it)');
  const nnserve = compose.services.nnserve;
  t.ok(nnserve.volumes.some((v: string) => /^\.\/indexes:\/indexes(:|$)/.test(v)), './indexes mounted at /indexes');
  t.equal(nnserve.read_only, true);
  t.ok(nnserve.tmpfs.includes('/tmp'));
  t.ok(nnserve.cap_drop.includes('ALL'));
  const prometheus = compose.services.prometheus;
  t.match(prometheus.image, /^prom\/prometheus(:|$)/);
  const configMount = prometheus.volumes.find((v: string) => v.includes('/etc/prometheus/prometheus.yml')) as string;
  t.equal(configMount.split(':')[0], './deploy/prometheus/prometheus.yml');

  const config = parse(read('deploy/prometheus/prometheus.yml')) as Record<string, any>;
  const job = config.scrape_configs.find((j: any) => j.job_name === 'nnserve');
  t.equal(job.metrics_path ?? '/metrics', '/metrics');
  const [host, port] = (job.static_configs[0].targets[0] as string).split(':');
  t.ok(host in compose.services, `scrape target host ${host} is a compose service`);
  t.equal(port, '8080', 'scrapes the container port, not the published one');
});
