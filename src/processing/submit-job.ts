import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { OwsException } from '../exceptions.js';
import type { Job, JobStore } from '../jobs/store.js';
import type { ExecuteRequest } from '../ows/request.js';
import type { ProcessDefinition } from '../process/types.js';
import type { JobQueue } from '../queue/types.js';
import type { JobLifecycle } from './job-lifecycle.js';
import type { StatusPublisher } from './status-publisher.js';

/** What the WPS operations need of the job machinery. */
export interface JobsContext {
  store: JobStore;
  queue: JobQueue;
  publisher: StatusPublisher;
  lifecycle: JobLifecycle;
  maxWaiting: number;
}

/**
 * Accepts an asynchronous Execute: the job row, then its status document on storage,
 * then the queue; the document is the answer. If any step fails the job is undone
 * before the client hears of it: no half-created job, no status document that never
 * moves.
 */
export async function submitJob(d: JobsContext, req: ExecuteRequest, process: ProcessDefinition): Promise<string> {
  const id = randomUUID();
  let inserted: boolean;
  try {
    inserted = await d.store.insertIfRoom(
      { id, processId: process.identifier, request: req, message: `Process ${process.identifier} accepted` },
      d.maxWaiting,
    );
  } catch {
    throw new OwsException('NoApplicableCode', 'The job store is not available; try again later');
  }
  if (!inserted) {
    throw new OwsException('ServerBusy', `${d.maxWaiting} jobs are waiting already; try again later`);
  }
  const undo = async () => {
    await d.store.remove(id).catch(() => undefined);
    await rm(d.publisher.statusPath(id), { force: true }).catch(() => undefined);
  };
  let doc: string;
  const now = new Date();
  const job: Job = {
      id,
      processId: process.identifier,
      request: req,
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
  };
  try {
    doc = await d.publisher.publishAccepted(job);
  } catch (err) {
    await undo();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      throw new OwsException('NotEnoughStorage', 'Not enough storage for the status document');
    }
    throw new OwsException('NoApplicableCode', 'The status document could not be written');
  }
  try {
    await d.queue.add(id, job);
  } catch {
    await undo();
    throw new OwsException('ServerBusy', 'The job queue is not available; try again later');
  }
  return doc;
}
