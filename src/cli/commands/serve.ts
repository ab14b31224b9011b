import { isAbsolute, relative } from 'node:path';
import { ConfigError, helpText, loadConfig, type ServiceConfig } from '../../service/config.js';
import { startServer } from '../../service/server.js';
import { mkdirProblem } from '../args.js';

/**
 * `nnserve serve [--index-dir DIR] [--port P] [--host H] [--workers N] …`: runs the HTTP service
 * until SIGTERM/SIGINT. Flags override environment variables (see `--help` or the README table).
 */
export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${helpText()}\n`);
    return 0;
  }
  let config;
  try {
    config = loadConfig(argv, process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`nnserve serve: ${err.message}\n\n${helpText()}\n`);
      return 2;
    }
    throw err;
  }
  let server;
  try {
    server = await startServer({ config, signals: true });
  } catch (err) {
    const problem = listenProblem(err, config.host, config.port) ?? mkdirProblem(err, '--index-dir', config.indexDir) ?? indexDirProblem(err, config);
    if (problem === null) throw err;
    process.stderr.write(`nnserve serve: ${problem}\n`);
    return 1;
  }
  const code = await server.stopped;
  // Anything still holding the loop open (a stuck connection after the grace period) must not
  // keep the process alive: the orchestrator expects an exit.
  process.exit(code);
}

/**
 * What went wrong when the listener could not be opened, in one line: these are settings the user
 * chose (host, port), not bugs, so no stack trace. null for anything else.
 */
function listenProblem(err: unknown, host: string, port: number): string | null {
  const { code, syscall } = err as NodeJS.ErrnoException;
  // The same codes come from the file system (EACCES writing the demo index into a volume the
  // service may not write): only the listener's own calls are about the host and port.
  if (syscall !== 'listen' && syscall !== 'bind' && syscall !== 'getaddrinfo') return null;
  switch (code) {
    case 'EADDRINUSE':
      return `port ${port} on ${host} is already in use`;
    case 'EACCES':
      return `no permission to listen on port ${port} on ${host}${port < 1024 ? ' (ports below 1024 need root or CAP_NET_BIND_SERVICE)' : ''}`;
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${host}: the address is not one of this machine's`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NONAME':
      return `cannot resolve the host ${host} (${code})`;
  }
  return `cannot listen on ${host} port ${port}: ${(err as Error).message}`;
}

/**
 * A file-system error in the index directory at start-up, in one line: typically a volume mounted
 * into a container that the service's user may not read, or (for the demo index, written when the
 * directory holds no index) may not write. null for errors elsewhere.
 */
function indexDirProblem(err: unknown, config: ServiceConfig): string | null {
  const { code, path } = err as NodeJS.ErrnoException;
  if (typeof code !== 'string' || typeof path !== 'string') return null;
  const inside = relative(config.indexDir, path);
  if (inside.startsWith('..') || isAbsolute(inside)) return null;
  const user = process.getuid ? `uid ${process.getuid()}` : 'this user';
  const fix =
    inside !== '' && config.demo
      ? `; it holds no index, so the demo index is written there: make it writable by ${user}, or set --demo=false (NNSERVE_DEMO=false)`
      : ['EACCES', 'EPERM'].includes(code)
        ? ` (the service runs as ${user})`
        : '';
  return `cannot use --index-dir ${config.indexDir}: ${(err as Error).message}${fix}`;
}
