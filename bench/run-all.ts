// Runs every benchmark in turn, then writes bench/results/report.md and the SVG plots.
// Run: npm run build && node dist/bench/run-all.js [--quick]   (`--quick` passes through)
// Each benchmark runs in its own process, so one failing (e.g. the service not starting) leaves the others' results.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { benchArgs, DIST_DIR } from './lib/results.js';

const quick = benchArgs().quick;
const pass = quick ? ['--quick'] : [];
const failed: string[] = [];
const started = performance.now();
for (const name of ['engine', 'http', 'rss', 'hotswap']) {
  process.stderr.write(`\n[run-all] ${name}${quick ? ' --quick' : ''}\n`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(DIST_DIR, 'bench', `${name}.js`), ...pass], { stdio: 'inherit' });
  process.stderr.write(`[run-all] ${name}: exit ${r.status ?? r.signal} after ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  if (r.status !== 0) failed.push(name);
}
spawnSync(process.execPath, [join(DIST_DIR, 'bench/report.js'), ...pass], { stdio: 'inherit' });
process.stderr.write(`[run-all] done in ${((performance.now() - started) / 1000).toFixed(0)} s${failed.length ? `; failed: ${failed.join(', ')}` : ''}\n`);
process.exitCode = failed.length ? 1 : 0;
