import { OwsException } from '../exceptions.js';

/**
 * A failed write to storage, as a client may read it: NotEnoughStorage when the disk or
 * the quota is full, else the system's error code alone (its message names the
 * server's own paths).
 */
export function storageFailure(err: unknown, what: string, locator?: string): OwsException {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return new OwsException('NotEnoughStorage', `Not enough storage to keep ${what}`, locator);
  return new OwsException('NoApplicableCode', `${what[0]!.toUpperCase()}${what.slice(1)} could not be stored${code ? ` (${code})` : ''}`, locator);
}
