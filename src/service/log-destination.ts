import { destination, pino, type Logger } from 'pino';

/** Bytes gathered before a write; a JSON log line is ~150 bytes. */
const BLOCK_BYTES = 4096;
/** The longest a line waits in the block on a quiet server. */
const FLUSH_MS = 200;

/**
 * The service's logger: JSON lines to stdout, written in blocks. pino's default destination issues
 * one write per line through libuv's thread pool, and on a busy server that hand-off (two thread
 * wake-ups per line) cost more than the access line itself. Lines wait at most FLUSH_MS; pino
 * flushes synchronously on process exit, so nothing is lost on shutdown or a crash.
 */
export function stdoutLogger(level: string): Logger {
  return pino({ level }, destination({ dest: 1, sync: false, minLength: BLOCK_BYTES, periodicFlush: FLUSH_MS }));
}
