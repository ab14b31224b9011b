/**
 * `text` without a leading UTF-8 byte-order mark. Windows tools save "UTF-8 with BOM"; left in, the
 * mark sticks to the first value, breaking JSON or becoming part of an id.
 */
export function withoutByteOrderMark(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
