// `npm audit --omit=dev`, failing on high or critical findings. When the registry's audit endpoint
// cannot be reached (some mirrors answer 405), say so plainly and do not pretend the audit passed.
import { spawnSync } from 'node:child_process';

const run = spawnSync('npm', ['audit', '--omit=dev', '--json'], { encoding: 'utf8' });
let report;
try {
  report = JSON.parse(run.stdout);
} catch {
  console.error(`npm audit printed no JSON (exit ${run.status}):\n${run.stderr}`);
  process.exit(1);
}
if (report.statusCode !== undefined || report.error !== undefined) {
  const why = report.message ?? report.error?.summary ?? JSON.stringify(report.error);
  console.log(`npm audit: NOT RUN — the registry's audit endpoint is unavailable here (${why}).`);
  process.exit(process.env.NNSERVE_REQUIRE_AUDIT === '1' ? 1 : 0);
}
const v = report.metadata?.vulnerabilities ?? {};
console.log(`npm audit (production dependencies): ${JSON.stringify(v)}`);
if ((v.high ?? 0) + (v.critical ?? 0) > 0) {
  console.error('high or critical vulnerabilities in production dependencies');
  process.exit(1);
}
