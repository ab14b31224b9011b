/**
 * Why a fetch pass failed. The message names the URL or file at fault, so an init container's log
 * line alone says what to fix.
 */
export class FetchError extends Error {
  override name = 'FetchError';
}
