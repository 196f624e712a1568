import { isAnonymous, mayManage, needsIdentity, type Caller } from '../auth/caller.js';
import { invalidParameter } from '../exceptions.js';
import { isTerminal } from '../jobs/states.js';
import type { DismissRequest } from '../ows/request.js';
import { xmlResponse, type OperationContext, type WpsResponse } from './context.js';

/**
 * Dismiss (WPS 2.0's operation, an extension here): a waiting job never starts, a
 * running one is stopped through its scheduler, its outputs are removed, and its status
 * document ends as ProcessFailed saying it was dismissed. That document is the answer.
 */
export async function dismiss(req: DismissRequest, ctx: OperationContext, caller: Caller): Promise<WpsResponse> {
  if (isAnonymous(caller)) throw needsIdentity();
  const { store, lifecycle, publisher } = ctx.jobs;
  const job = await store.get(req.jobId);
  // Another user's job is answered like one that does not exist: ids do not leak.
  if (!job || !mayManage(job.owner, caller)) throw invalidParameter('jobId', `There is no job ${req.jobId}`);
  const refuse = (state: string) =>
    invalidParameter('jobId', `Job ${req.jobId} has already ${state === 'succeeded' ? 'succeeded' : state === 'dismissed' ? 'been dismissed' : 'failed'}; only waiting or running jobs can be dismissed`);
  if (isTerminal(job.state)) throw refuse(job.state);
  const dismissed = await lifecycle.dismiss(req.jobId);
  if (!dismissed) throw refuse((await store.get(req.jobId))?.state ?? 'failed');
  return xmlResponse((await publisher.publish(req.jobId))!);
}
