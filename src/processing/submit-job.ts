import { randomUUID } from 'node:crypto';
import type { Caller } from '../auth/caller.js';
import { quotaOf } from '../auth/quotas.js';
import type { QuotasConfig } from '../config.js';
import { admissionOf, coreSeconds, quotaRefusal, type Reservation } from './admission.js';
import type { QueueLimits } from './queue-limits.js';
import { OwsException } from '../exceptions.js';
import type { Job, JobStore } from '../jobs/store.js';
import type { ExecuteRequest } from '../ows/request.js';
import type { ProcessDefinition } from '../process/types.js';
import type { JobQueue } from '../queue/types.js';
import { storageFailure } from '../storage/storage-failure.js';
import type { JobLifecycle } from './job-lifecycle.js';
import type { StatusPublisher } from './status-publisher.js';

/** What the WPS operations need of the job machinery. */
export interface JobsContext {
  store: JobStore;
  queue: JobQueue;
  publisher: StatusPublisher;
  lifecycle: JobLifecycle;
  maxWaiting: number;
  quotas: QuotasConfig | undefined;
  /** What a job of the process holds against its owner's budget (its placement's cores and wall time). */
  reservationOf(process: ProcessDefinition): Reservation;
  /** Refuses a process whose needs its partition or queue does not allow (InvalidParameterValue). */
  queueLimits: QueueLimits;
}

/**
 * Accepts an asynchronous Execute: the job row and its status document on storage,
 * written at the same time (each is a durable write of its own; one after the other
 * would add their latencies), then the queue; the document is the answer. If any step
 * fails the job is undone before the client hears of it: no half-created job, no
 * status document that never moves. A crash between the two writes can leave a
 * document without a row, which nobody has been told of; `removeOrphanDocuments`
 * takes those away.
 */
export async function submitJob(d: JobsContext, req: ExecuteRequest, process: ProcessDefinition, caller: Caller): Promise<{ jobId: string; document: string }> {
  const quota = quotaOf(d.quotas, caller.user, caller.groups);
  const admission = admissionOf(quota);
  const reservation = d.reservationOf(process);
  const job = acceptedJob(randomUUID(), req, process, caller, coreSeconds(reservation));
  const insert = d.store.insertIfRoom(
    {
      id: job.id,
      processId: job.processId,
      request: req,
      message: job.message!,
      owner: job.owner,
      ownerGroups: job.ownerGroups,
      reservedCoreSeconds: job.reservedCoreSeconds!,
      cores: reservation.cores,
    },
    d.maxWaiting,
    admission,
  );
  // While the waiting limit turns submissions away, a document is written only for a job
  // that got in: a refusal, the answer to overload, then costs no file.
  const write = d.store.refusing
    ? insert.then((ok) => (ok ? d.publisher.publishAccepted(job) : undefined), () => undefined)
    : d.publisher.publishAccepted(job);
  const [stored, written] = await Promise.allSettled([insert, write]);
  if (stored.status === 'rejected' || !stored.value) {
    if (written.status === 'fulfilled' && written.value !== undefined) await d.publisher.withdraw(job.id).catch(() => undefined);
    if (stored.status === 'rejected') throw new OwsException('NoApplicableCode', 'The job store is not available; try again later');
    if (admission && quota && caller.user !== undefined) {
      const usage = await d.store.usageOf(caller.user, admission.periodStart).catch(() => undefined);
      const refused = usage && quotaRefusal(caller.user, quota, usage, reservation);
      if (refused) throw refused;
    }
    throw new OwsException('ServerBusy', `${d.maxWaiting} jobs are waiting already; try again later`);
  }
  const undo = async () => {
    await d.store.remove(job.id).catch(() => undefined);
    await d.publisher.withdraw(job.id).catch(() => undefined);
  };
  if (written.status === 'rejected') {
    await undo();
    throw storageFailure(written.reason, 'the status document');
  }
  try {
    await d.queue.add(job.id, job);
  } catch {
    await undo();
    throw new OwsException('ServerBusy', 'The job queue is not available; try again later');
  }
  return { jobId: job.id, document: written.value! };
}

/** The row an accepted job gets, as the store will hold it. */
function acceptedJob(id: string, request: ExecuteRequest, process: ProcessDefinition, caller: Caller, reservedCoreSeconds: number): Job {
  const now = new Date();
  return {
    id,
    processId: process.identifier,
    owner: caller.user ?? null,
    ownerGroups: caller.user === undefined ? [] : [...caller.groups],
    reservedCoreSeconds,
    chargedCoreSeconds: null,
    request,
    state: 'accepted',
    percent: 0,
    message: `Process ${process.identifier} accepted`,
    scheduler: null,
    schedulerJobId: null,
    secretHash: null,
    failureCode: null,
    failureLocator: null,
    failureReason: null,
    version: 0,
    createdAt: now,
    dispatchedAt: null,
    startedAt: null,
    finishedAt: null,
    updatedAt: now,
    sessionHost: null,
    sessionPort: null,
    sessionSecretHash: null,
    sessionReadyAt: null,
    sessionActiveAt: null,
  };
}
