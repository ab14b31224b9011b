/** Directory parts of absolute paths: the file name stays, where the server keeps it does not. */
const DIRECTORIES = /(?<![\w.~-])\/(?:[^/\s'"`]+\/)+/g;

const MAX_LENGTH = 500;

/**
 * A load failure's message as API callers may read it: file names, never the server's paths (fs
 * errors carry them), and bounded in length.
 */
export function publicReason(message: string): string {
  const reason = message.replace(DIRECTORIES, '');
  return reason.length > MAX_LENGTH ? `${reason.slice(0, MAX_LENGTH)}…` : reason;
}
