import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Secrets (a job's report secret, API tokens) are kept only as their SHA-256, in hex:
 * a copy of the database or the config file lets nobody act with them.
 */
export const hashSecret = (secret: string): string => createHash('sha256').update(secret, 'utf8').digest('hex');

/** A new random secret, 256 bits in base64url, after `prefix` (which makes a leaked one recognisable). */
export const newSecret = (prefix = ''): string => prefix + randomBytes(32).toString('base64url');

/** Whether two hashes are the same, in constant time (a hash compared byte by byte would leak how much matched). */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
