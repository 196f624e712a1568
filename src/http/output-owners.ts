import type { IncomingMessage } from 'node:http';
import { isAnonymous, mayManage, needsIdentity } from '../auth/caller.js';
import { isJobId } from '../job-id.js';
import type { Services } from '../services.js';

/**
 * With auth.protectOutputs, a status document or output is served only to its job's
 * owner (the row's) or a synchronous run's (its folder's mark), and to admins; anyone
 * else gets the 404 of a file that does not exist. Without it, none: the unguessable
 * ids make the URLs capabilities, and plain pollers keep working.
 */
export function outputOwnersGate(services: Services): ((req: IncomingMessage, path: string) => Promise<boolean>) | undefined {
  if (!services.config.auth?.protectOutputs) return undefined;
  return async (req, path) => {
    const caller = await services.auth.identify(req);
    if (caller.admin) return true;
    if (isAnonymous(caller)) throw needsIdentity();
    const first = path.slice(path.indexOf('/', 1) + 1).split('/')[0]!;
    const id = first.endsWith('.xml') ? first.slice(0, -4) : first;
    if (!isJobId(id)) return false;
    const job = await services.store.get(id);
    const owner = job ? job.owner : await services.outputs.markedOwner(id);
    return owner !== undefined && mayManage(owner, caller);
  };
}
