import { ConfigError, helpText, loadConfig } from '../../service/config.js';
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
    const problem = listenProblem(err, config.host, config.port) ?? mkdirProblem(err, '--index-dir', config.indexDir);
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
  if (syscall === 'listen' || syscall === 'getaddrinfo') return `cannot listen on ${host} port ${port}: ${(err as Error).message}`;
  return null;
}
