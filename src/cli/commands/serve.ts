import { ConfigError, helpText, loadConfig } from '../../service/config.js';
import { startServer } from '../../service/server.js';

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
  const server = await startServer({ config, signals: true });
  const code = await server.stopped;
  // Anything still holding the loop open (a stuck connection after the grace period) must not
  // keep the process alive: the orchestrator expects an exit.
  process.exit(code);
}
