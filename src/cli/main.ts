import { readFileSync } from 'node:fs';

/** Each command lives in ./commands/<name>.js and is imported only when used, so `nnserve query` does not load Fastify. */
const COMMANDS: Record<string, string> = {
  build: 'build an Annoy index (+ manifest) from .fvecs, .npy, .jsonl or .csv vectors',
  inspect: 'validate an index file and print a JSON summary',
  query: 'answer JSON-lines queries from stdin against an index file',
  serve: 'run the HTTP service over a directory of indexes',
  fetch: 'download an index (+ manifest) into an index directory',
};

const usage = `Usage: nnserve <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, what]) => `  ${name.padEnd(9)} ${what}`)
  .join('\n')}

Run \`nnserve <command> --help\` for a command's options.
`;

interface CommandModule {
  run(argv: string[]): Promise<number>;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    process.stderr.write(usage);
    return 2;
  }
  if (command === '--help' || command === '-h' || command === 'help') {
    if (rest.length > 0 && rest[0] in COMMANDS) return main([rest[0], '--help']);
    process.stdout.write(usage);
    return 0;
  }
  if (command === '--version' || command === '-v') {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  if (!Object.hasOwn(COMMANDS, command)) {
    process.stderr.write(`nnserve: unknown command ${JSON.stringify(command)}\n\n${usage}`);
    return 2;
  }
  const mod = (await import(`./commands/${command}.js`)) as Partial<CommandModule>;
  if (typeof mod.run !== 'function') throw new Error(`commands/${command}.js does not export run()`);
  return mod.run(rest);
}

/**
 * Output that cannot be written (stdout on a full disk) is one line and exit 1 instead of an
 * unhandled 'error' event's stack trace; a reader that stopped early (EPIPE, `| head`) is no error.
 * `query` handles its own while it answers (it stops answering; its --help is covered here), and
 * `serve` logs through pino.
 */
let outputFailed = false;
const [command, ...rest] = process.argv.slice(2);
const answering = command === 'query' && !rest.includes('--help') && !rest.includes('-h');
if (command !== 'serve' && !answering) {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || outputFailed) return;
    outputFailed = true;
    process.stderr.write(`nnserve: cannot write the output: ${err.message}\n`);
    process.exitCode = 1;
  });
}

// Setting exitCode instead of calling process.exit lets stdout drain and lets `serve` keep running.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = outputFailed ? 1 : code;
  },
  (err: unknown) => {
    process.stderr.write(`nnserve: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
