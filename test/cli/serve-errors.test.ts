import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { runCli, type CliResult } from './run-cli.js';
import { tempDir } from './fixtures.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** Where a user mistake must end: one line naming the problem, no stack trace, exit 1. */
function oneLine(t: Test, r: CliResult, pattern: RegExp): void {
  t.equal(r.code, 1, 'exit 1');
  t.match(r.stderr, pattern);
  t.equal(r.stderr.trimEnd().split('\n').length, 1, `one line on stderr: ${r.stderr}`);
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

t.test('serve: a port in use is one line, exit 1', async (t) => {
  const taken = createServer();
  taken.listen(0, '127.0.0.1');
  await once(taken, 'listening');
  t.teardown(() => taken.close());
  const port = (taken.address() as AddressInfo).port;
  const r = runCli(['serve', '--host', '127.0.0.1', '--port', String(port), '--index-dir', tempDir(t), '--log-level', 'silent']);
  oneLine(t, r, new RegExp(`^nnserve serve: port ${port} on 127\\.0\\.0\\.1 is already in use\\n$`));
});

t.test('serve: a start that fails leaves no demo index behind', async (t) => {
  const taken = createServer();
  taken.listen(0, '127.0.0.1');
  await once(taken, 'listening');
  t.teardown(() => taken.close());
  const port = String((taken.address() as AddressInfo).port);
  const empty = tempDir(t);
  const missing = join(tempDir(t), 'indexes');
  for (const dir of [empty, missing]) {
    const r = runCli(['serve', '--host', '127.0.0.1', '--port', port, '--index-dir', dir, '--log-level', 'silent']);
    t.equal(r.code, 1, r.stderr);
  }
  t.same(readdirSync(empty), [], 'an empty index directory stays empty');
  t.notOk(existsSync(missing), 'a missing index directory is not left created');
});

t.test('serve: a host that is not an address of this machine, or not a host at all', async (t) => {
  // 192.0.2.0/24 is TEST-NET-1: never assigned to a local interface.
  let r = runCli(['serve', '--host', '192.0.2.1', '--port', '0', '--index-dir', tempDir(t), '--log-level', 'silent']);
  oneLine(t, r, /^nnserve serve: cannot listen on 192\.0\.2\.1: the address is not one of this machine's/);

  // .invalid never resolves (RFC 6761); without DNS the lookup fails with EAI_AGAIN instead.
  r = runCli(['serve', '--host', 'no-such-host.invalid', '--port', '0', '--index-dir', tempDir(t), '--log-level', 'silent']);
  oneLine(t, r, /^nnserve serve: cannot resolve the host no-such-host\.invalid/);
});

/** The first port any user may open (Linux makes it a setting); below it listening needs privilege. */
function unprivilegedPortStart(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
  } catch {
    return 1024;
  }
}

/**
 * The CLI run without root's privileges: as the test's user when that is not root, else as nobody,
 * through env(1) to drop NODE_OPTIONS: tap's process hooks would otherwise write a record under the
 * test's directory, which nobody may not. null when nobody cannot read the checkout (one under a
 * private home directory): nothing to test then.
 */
function runUnprivileged(args: string[], cwd: string): CliResult | null {
  if (process.getuid?.() !== 0) return runCli(args);
  const asNobody = (command: string[]) => spawnSync('env', ['-u', 'NODE_OPTIONS', process.execPath, ...command], { cwd, uid: 65534, gid: 65534, encoding: 'utf8', timeout: 60_000 });
  if (asNobody(['-e', `require('fs').accessSync(${JSON.stringify(MAIN)})`]).status !== 0) return null;
  const child = asNobody([MAIN, ...args]);
  return { code: child.status, stdout: child.stdout, stderr: child.stderr };
}

t.test('serve: a port below 1024 without the privilege to open it', { skip: unprivilegedPortStart() <= 80 ? 'port 80 is open to every user here' : false }, async (t) => {
  const dir = tempDir(t);
  chmodSync(dir, 0o777);
  const args = ['serve', '--host', '127.0.0.1', '--port', '80', '--index-dir', dir, '--log-level', 'silent'];
  const expected = /^nnserve serve: no permission to listen on port 80 on 127\.0\.0\.1 \(ports below 1024 need root or CAP_NET_BIND_SERVICE\)\n$/;
  const r = runUnprivileged(args, dir);
  if (r === null) return void t.comment('skipped: the checkout is not readable by user nobody');
  oneLine(t, r, expected);
});

t.test('serve: an index directory the user may not write (demo index) or read is named, not the port', async (t) => {
  // A volume mounted into a container and owned by another uid: both said "no permission to listen
  // on port 8080", which sent the reader after capabilities and ports.
  const cwd = tempDir(t);
  chmodSync(cwd, 0o755);
  const uid = process.getuid?.() === 0 ? 65534 : process.getuid?.();
  for (const [mode, pattern] of [
    [0o555, /: EACCES: permission denied, open '.*\.demo\.[^']*'; it holds no index, so the demo index is written there: make it writable by uid (\d+), or set --demo=false \(NNSERVE_DEMO=false\)\n$/],
    [0o111, /: EACCES: permission denied, scandir '[^']*' \(the service runs as uid (\d+)\)\n$/],
  ] as const) {
    const dir = join(cwd, `indexes-${mode.toString(8)}`);
    mkdirSync(dir, { mode });
    chmodSync(dir, mode);
    const r = runUnprivileged(['serve', '--host', '127.0.0.1', '--port', '0', '--index-dir', dir, '--log-level', 'silent'], cwd);
    if (r === null) return void t.comment('skipped: the checkout is not readable by user nobody');
    oneLine(t, r, new RegExp(`^nnserve serve: cannot use --index-dir ${dir.replace(/[.]/g, '\\.')}${pattern.source}`));
    t.equal(r.stderr.match(pattern)?.[1], String(uid), 'names the uid the service runs as');
    t.notMatch(r.stderr, /listen|\bport\b/, 'says nothing of the listener');
  }
});

t.test('serve: a negated flag given a value is a usage error, not the opposite setting', async (t) => {
  // `--port 70000` after it fails too: the old parser took --no-docs=true as docs on and stopped there.
  const r = runCli(['serve', '--no-docs=true', '--port', '70000']);
  t.equal(r.code, 2, 'exit 2, as for any usage error');
  // The hint is what the user meant: "no docs = true" is --docs=false (it first said --docs=true).
  t.match(r.stderr, /^nnserve serve: --no-docs takes no value; write --docs=false or --no-docs\n/);
  t.match(runCli(['serve', '--no-docs=off']).stderr, /write --docs=true or --no-docs\n/);
});

t.test('serve: a boolean flag followed by its value as a separate word says to write it with =', async (t) => {
  // Both ended in "unknown option false", which named neither the flag nor the fix.
  let r = runCli(['serve', '--access-log', 'false', '--port', '70000']);
  t.equal(r.code, 2, 'exit 2, as for any usage error');
  t.match(r.stderr, /^nnserve serve: --access-log takes its value after "=": write --access-log=false\n/);
  t.match(runCli(['serve', '--docs', 'off']).stderr, /^nnserve serve: --docs takes its value after "=": write --docs=false\n/);
  t.match(runCli(['serve', '--no-demo', 'true']).stderr, /^nnserve serve: --no-demo takes no value; write --demo=false or --no-demo\n/);
  r = runCli(['serve', 'indexes']);
  t.equal(r.code, 2);
  t.match(r.stderr, /^nnserve serve: unexpected argument "indexes": every setting is a flag \(--name value or --name=value\) or an environment variable\n/);
});

t.test('serve: an index directory that is a file, or lies under one, is one line, exit 1', async (t) => {
  const file = join(tempDir(t), 'vectors.npy');
  writeFileSync(file, 'not a directory');
  // Both used to end in a stack trace from creating the demo index (EEXIST / ENOTDIR, mkdir).
  for (const dir of [file, join(file, 'indexes')]) {
    const r = runCli(['serve', '--host', '127.0.0.1', '--port', '0', '--index-dir', dir, '--log-level', 'silent']);
    oneLine(t, r, new RegExp(`^nnserve serve: cannot use --index-dir ${dir.replace(/[.]/g, '\\.')}: ${file.replace(/[.]/g, '\\.')} is not a directory\\n$`));
  }
});
