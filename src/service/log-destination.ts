import { destination, pino, type DestinationStream, type Logger } from 'pino';

/** Bytes gathered before a write; a JSON log line is ~150-250 bytes. */
const BLOCK_BYTES = 4096;
/** The longest a line waits in the block on a quiet server. */
const FLUSH_MS = 200;

/**
 * stdout as the service writes it: in blocks, by the event loop itself. pino's default destination
 * issues one write per line through libuv's thread pool, and on a busy server that hand-off (a
 * thread wake-up each way, tens of µs on a VM) cost more than the access line itself. A direct write
 * of a block costs one system call for several lines; like Node's own stdout to a file or pipe, it
 * is synchronous. Lines wait at most FLUSH_MS, and the rest is written on exit (an uncaught
 * exception included). One per process, however many apps log to it.
 */
let stdout: (DestinationStream & { flushSync(): void }) | undefined;

function blockedStdout(): DestinationStream {
  if (!stdout) {
    const stream = destination({ dest: 1, sync: true, minLength: BLOCK_BYTES, periodicFlush: FLUSH_MS });
    process.once('exit', () => {
      try {
        stream.flushSync();
      } catch {
        // stdout is gone (closed pipe): there is nowhere left to write to.
      }
    });
    stdout = stream;
  }
  return stdout;
}

/** The service's logger: JSON lines to stdout (see blockedStdout). */
export function stdoutLogger(level: string): Logger {
  return pino({ level }, blockedStdout());
}
