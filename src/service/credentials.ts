import { timingSafeEqual } from 'node:crypto';

/**
 * The token of an `Authorization: Bearer <token>` header, or undefined. The scheme name is
 * case-insensitive (RFC 9110 §11.1): clients and proxies send `bearer` as well as `Bearer`.
 */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^bearer +(\S+) *$/i.exec(header);
  return match?.[1];
}

/** Compares against every secret without stopping at the first match, so timing does not tell which one matched. */
export function matchesAnySecret(given: string | undefined, secrets: readonly Buffer[]): boolean {
  if (given === undefined) return false;
  const b = Buffer.from(given);
  let ok = false;
  for (const secret of secrets) if (b.length === secret.length && timingSafeEqual(b, secret)) ok = true;
  return ok;
}
