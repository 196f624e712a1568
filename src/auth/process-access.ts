import type { ProcessAccess } from '../config.js';
import type { Caller } from './caller.js';

/** Whether a caller may see and execute a process restricted to `access` (undefined: anyone). */
export function mayUse(access: ProcessAccess | undefined, caller: Caller): boolean {
  if (!access || caller.admin) return true;
  if (caller.user === undefined) return false;
  return access.users.includes(caller.user) || caller.groups.some((g) => access.groups.includes(g));
}
