import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { settingsTable } from '../../src/service/config.js';
import { repoRoot } from '../helpers/fixtures.js';
import { serve, tempDir } from './helpers.js';

const run = promisify(execFile);

const README = join(repoRoot, 'README.md');
const readme = { path: README, text: readFileSync(README, 'utf8') };

interface Example {
  command: string;
  expected: unknown;
  /** The expected-output block exactly as written (to rewrite it with NNSERVE_UPDATE_README=1). */
  block?: string;
}

/**
 * The documented outputs come from the deterministic demo index; when the engine's builder changes,
 * the demo (and so the outputs) change too. `NNSERVE_UPDATE_README=1` rewrites them in place.
 */
const UPDATE = process.env.NNSERVE_UPDATE_README === '1';

/** Every `curl` line of the ```sh blocks; a ```json block right after a one-command block is its expected output. */
function examples(markdown: string): Example[] {
  const blocks: { lang: string; body: string }[] = [];
  const fence = /^```(\w*)\n([\s\S]*?)^```\s*$/gm;
  for (const m of markdown.matchAll(fence)) blocks.push({ lang: m[1], body: m[2] });
  const out: Example[] = [];
  blocks.forEach((b, i) => {
    if (b.lang !== 'sh') return;
    const commands = b.body
      .replace(/\\\n\s*/g, '')
      .split('\n')
      // Examples against a local `npm start` (container sections target published ports and are
      // exercised by .ci/container-checks.sh instead).
      .filter((l) => l.startsWith('curl ') && l.includes('http://localhost:8080'));
    const next = blocks[i + 1];
    const hasOutput = commands.length >= 1 && next?.lang === 'json';
    commands.forEach((command, j) => {
      const last = j === commands.length - 1 && hasOutput;
      out.push({ command, expected: last ? JSON.parse(next.body) : undefined, block: last ? next.body : undefined });
    });
  });
  return out;
}

/** Deep equality with floats compared to 1e-6 (kernels may round the last bit differently). */
function close(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => close(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return close(ka, kb) && ka.every((k) => close((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return a === b;
}

t.test(`settings table in ${readme.path} matches the configuration`, async (t) => {
  t.ok(readme.text.includes(settingsTable()), 'README table is the one settingsTable() prints');
});

t.test(`curl examples in ${readme.path} run as written against the demo index`, async (t) => {
  const list = examples(readme.text);
  t.ok(list.length >= 10, `${list.length} curl examples found`);
  const server = await serve(t, tempDir(t), { demo: true, adminToken: 'readme-token', workers: 1, corsOrigins: ['https://shop.example.com'] });
  let text = readme.text;
  for (const { command, expected, block } of list) {
    const cmd = command.replaceAll('http://localhost:8080', server.url);
    const { stdout } = await run('sh', ['-c', cmd], { env: { ...process.env, NNSERVE_ADMIN_TOKEN: 'readme-token' } });
    t.ok(stdout.length > 0, `output: ${command.slice(0, 90)}`);
    if (stdout.startsWith('{')) {
      const body = JSON.parse(stdout) as Record<string, unknown>;
      if (expected !== undefined && UPDATE && block !== undefined && !close(body, expected)) text = text.replace(block, `${stdout.trim()}\n`);
      else if (expected !== undefined) t.ok(close(body, expected), `documented output matches: ${command.slice(0, 90)}\n${stdout}`);
      else t.notOk('statusCode' in body, `no error: ${command.slice(0, 90)}\n${stdout}`);
    }
  }
  if (UPDATE && text !== readme.text) {
    writeFileSync(readme.path, text);
    t.comment(`updated the documented outputs in ${readme.path}`);
  }
});
