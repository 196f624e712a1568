import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { OwsException } from '../exceptions.js';
import { selectOutputs } from '../process/outputs.js';
import type { ProcessFinder } from '../packages/load-processes.js';
import { failureOf, runProcess } from '../processing/run-process.js';
import { Workdir } from '../processing/workdir.js';
import { processStartTicks } from '../scheduler/local/proc.js';
import type { JobResult, JobSpec } from '../runner-contract.js';
import { JobFiles, toStoredOutput } from '../storage/job-files.js';
import { OutputStore } from '../storage/output-store.js';
import { jsonLog } from '../log.js';
import { Reporter, type ReportChannel } from './reporter.js';
import { runSession } from '../sessions/run-session.js';

/**
 * What runs on the compute node (or in a local warm runner): load the job's spec from
 * its directory on shared storage, fetch and check its inputs, run the process, store
 * its outputs, leave the result beside the spec and report to the server.
 * The same code path serves every scheduler.
 */
export async function runJobDirectory(
  jobDir: string,
  findProcess: ProcessFinder,
  channel?: ReportChannel,
  stop: AbortSignal = stopSignal(),
): Promise<JobResult> {
  const files = new JobFiles(dirname(jobDir));
  const id = basename(jobDir);
  files.recordAttempt(id, `${new Date().toISOString()} pid=${process.pid} host=${hostname()}`);
  const spec = await files.readSpec(id);
  const started = performance.now();
  jsonLog({ msg: 'job started', jobId: id, processId: spec.processId, role: 'runner', host: hostname() });
  const reporter = new Reporter(spec.reportUrl, spec.secret, channel);
  await files.writeRunner(id, { pid: process.pid, startTicks: processStartTicks(process.pid) ?? 0, host: hostname() });
  reporter.started();
  const result = spec.session
    ? await runSession({
        jobId: id,
        spec: spec.session,
        workdir: join(files.dir(id), 'work'),
        stdoutPath: files.stdoutPath(id),
        stderrPath: files.stderrPath(id),
        announce: (host, port) => reporter.session(host, port),
        stop,
      }).catch((err: Error): JobResult => ({ state: 'failed', error: { code: 'NoApplicableCode', message: `The session could not be started: ${err.message}` } }))
    : await runHandler(spec, files, findProcess, reporter, stop);
  await files.writeResult(id, result);
  // A stopped job is settled by the dispatcher, which knows why it was stopped.
  const reported = result.state === 'failed' && result.stopped ? false : await reporter.finished();
  jsonLog({
    level: result.state === 'succeeded' ? 'info' : 'warn',
    msg: 'job finished',
    jobId: id,
    role: 'runner',
    state: result.state,
    ms: Math.round(performance.now() - started),
    reported,
    ...(result.state === 'failed' ? { error: result.error.message } : {}),
  });
  return result;
}

/** Fetches and checks the job's inputs, runs its process's handler and stores its outputs. */
async function runHandler(spec: JobSpec, files: JobFiles, findProcess: ProcessFinder, reporter: Reporter, stop: AbortSignal): Promise<JobResult> {
  const id = spec.jobId;
  const logFields = { jobId: id, role: 'runner' };
  try {
    const proc = await findProcess(spec.processId, spec.processSource, spec.cwl);
    if (!proc) throw new OwsException('NoApplicableCode', `Process ${spec.processId} is not installed where the job ran`);
    const form = spec.request.responseForm;
    // In the job's directory, which the dispatcher made; kept with the job.
    const workdir = new Workdir(() => join(files.dir(id), 'work'), false);
    const run = await runProcess({
      process: proc,
      inputs: spec.request.inputs,
      selections: selectOutputs(proc, form.kind === 'raw' ? [form.output] : form.outputs),
      resolve: {
        policy: spec.references,
        timeoutMs: spec.referenceTimeoutMs,
        maxInputSize: spec.maxInputSize,
        maxReferences: spec.maxReferences ?? Infinity,
        maxFetchedBytes: spec.maxFetchedBytes ?? Infinity,
        workdir: workdir.path,
      },
      outputs: new OutputStore(spec.outputDir, spec.outputUrl),
      jobId: id,
      // A job's outputs belong to its row's owner.
      owner: undefined,
      // The batch system and the dispatcher enforce the wall time.
      timeoutMs: undefined,
      signal: stop,
      progress: (percent, message) => reporter.progress(percent, message),
      log: jsonLog,
      logFields,
      workdir,
    });
    if (!run.ok) throw run.error;
    return {
      state: 'succeeded',
      message: `Process ${proc.identifier} finished`,
      outputs: run.produced.map((p) => toStoredOutput(p.selection.output.identifier, p.value, p.href)),
    };
  } catch (err) {
    const ex = failureOf(err, spec.processId, jsonLog, logFields);
    const result: JobResult = { state: 'failed', error: { code: ex.code, message: ex.message, ...(ex.locator ? { locator: ex.locator } : {}) } };
    if (stop.aborted) result.stopped = true;
    return result;
  }
}

/**
 * Aborts on SIGTERM (a job dismissed, or past its wall time: the local scheduler, Slurm's
 * scancel and GridEngine with -notify send it before SIGKILL). The handler's signal
 * aborts and the handler gets the grace period to end cleanly; the result says why.
 */
export function stopSignal(): AbortSignal {
  const controller = new AbortController();
  process.once('SIGTERM', () => controller.abort(new OwsException('NoApplicableCode', 'The job was stopped (SIGTERM) before it finished')));
  return controller.signal;
}
