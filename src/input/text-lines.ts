import { createReadStream } from 'node:fs';
import { withoutByteOrderMark } from './byte-order-mark.js';
import { InputError } from './vector-set.js';

const LF = 0x0a;
const CR = 0x0d;

/**
 * The lines of a UTF-8 text file, ended by LF, CRLF or CR. A byte-order mark (as Windows tools
 * write) is dropped: it would otherwise stick to the first value, breaking JSON or becoming part of
 * an id. Bytes that are not UTF-8 are refused: decoded leniently they became U+FFFD, so a Latin-1
 * "café" (as Excel saves a CSV on Windows) was stored as the id "caf\uFFFD" without a word.
 * Lines are cut on bytes (a line break byte is never part of a multi-byte UTF-8 sequence).
 */
export async function* textLines(path: string): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let lineNo = 0;
  const decode = (parts: Buffer[]): string => {
    lineNo++;
    try {
      const text = decoder.decode(parts.length === 1 ? parts[0] : Buffer.concat(parts));
      return lineNo === 1 ? withoutByteOrderMark(text) : text;
    } catch {
      throw new InputError(`${path}: line ${lineNo}: not UTF-8 text; save the file as UTF-8 (Excel: "CSV UTF-8")`);
    }
  };
  let parts: Buffer[] = [];
  let afterCR = false;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (byte === LF && afterCR) {
        // The LF of a CRLF whose CR ended the line already.
        afterCR = false;
        start = i + 1;
        continue;
      }
      afterCR = false;
      if (byte !== LF && byte !== CR) continue;
      parts.push(chunk.subarray(start, i));
      yield decode(parts);
      parts = [];
      afterCR = byte === CR;
      start = i + 1;
    }
    if (start < chunk.length) parts.push(chunk.subarray(start));
  }
  if (parts.length > 0) yield decode(parts);
}
