import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';

export class NotRegularFileError extends Error {
  override name = 'NotRegularFileError';
}

/**
 * Opens `path` for reading and checks, on the open descriptor, that it is a regular file. The open
 * does not block: opening a FIFO for reading waits for a writer, and a loader stuck there would hold
 * up every later index load (and readiness) for good. Checking the descriptor, not a stat of the
 * path beforehand, leaves no window for the file to be replaced in between.
 */
export function openRegularFile(path: string): number {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    if (!fstatSync(fd).isFile()) throw new NotRegularFileError(`${basename(path)} is not a regular file`);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
}

/**
 * The whole text of a regular file (UTF-8); NotRegularFileError for FIFOs, devices and directories.
 * A file over `maxBytes` is refused before any of it is read.
 */
export function readRegularFileText(path: string, maxBytes = Infinity): string {
  const fd = openRegularFile(path);
  try {
    const size = fstatSync(fd).size;
    if (size > maxBytes) throw new Error(`${basename(path)} has ${size} bytes, more than the ${maxBytes} allowed`);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}
