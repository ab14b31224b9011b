import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { withoutByteOrderMark } from './byte-order-mark.js';

/**
 * The lines of a UTF-8 text file, CRLF or LF. A byte-order mark (as Windows tools write) is
 * dropped: it would otherwise stick to the first value, breaking JSON or becoming part of an id.
 */
export async function* textLines(path: string): AsyncGenerator<string> {
  let first = true;
  for await (const line of createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity })) {
    yield first ? withoutByteOrderMark(line) : line;
    first = false;
  }
}
