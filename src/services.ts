import { mkdir } from 'node:fs/promises';
import { authenticator, type Authenticator } from './auth/authenticate.js';
import { ConfigError, type Config } from './config.js';
import { appProcess } from './sessions/declare.js';
import { SessionLinks } from './sessions/links.js';
import { ProxyMappingFile } from './sessions/proxy-file.js';
import { Callbacks } from './processing/callbacks.js';
import { resultValue } from './ogcapi/results.js';
import { statusInfoWriter } from './ogcapi/status-info.js';
import { databaseOptions, openMigratedDatabase, type Knex } from './jobs/db.js';
import { JOB_STATES } from './jobs/states.js';
import { Gauge, Metrics } from './metrics.js';
import { metered } from './scheduler/metered.js';
import { JobStore } from './jobs/store.js';
import { offeringSequence } from './jobs/offerings.js';
import { offeringDigest } from './operations/get-capabilities.js';
import { jsonLog, type Log } from './log.js';
import type { OperationContext } from './operations/context.js';
import { ProcessRegistry } from './process/registry.js';
import type { ProcessDefinition } from './process/types.js';
import { Dispatcher } from './processing/dispatcher.js';
import { reservationOf } from './processing/placement.js';
import { QueueLimits } from './processing/queue-limits.js';
import { MAIN_SCRIPT } from './main-script.js';
import { JobEvents } from './processing/job-events.js';
import { JobLifecycle } from './processing/job-lifecycle.js';
import { applyRunnerEvent } from './processing/runner-events.js';
import { removeOrphanDocuments } from './processing/orphan-documents.js';
import { sweepExpiredJobs } from './processing/retention.js';
import { republishStaleDocuments } from './processing/stale-documents.js';
import { ByteBudget } from './processing/byte-budget.js';
import { Slots } from './processing/slots.js';
import { StatusPublisher } from './processing/status-publisher.js';
import { BullMqQueue } from './queue/bullmq.js';
import { InProcessQueue } from './queue/in-process.js';
import type { JobQueue } from './queue/types.js';
import { GridEngineScheduler } from './scheduler/gridengine.js';
import { LocalScheduler } from './scheduler/local/local-scheduler.js';
import { SchedulerMonitor } from './scheduler/monitor.js';
import { SlurmScheduler } from './scheduler/slurm.js';
import { LocalTransport, SshTransport, type Transport } from './scheduler/transport.js';
import type { Scheduler } from './scheduler/types.js';
import { FileWriter } from './storage/file-writer.js';
import { JobFiles } from './storage/job-files.js';
import { removeStaleDirectories, removeStaleTemporaryFiles } from './storage/leftovers.js';
import { syncWorkdirs } from './processing/workdir.js';
import { OutputStore } from './storage/output-store.js';

/**
 * A temporary file, or a status document without a job, this old belongs to a write
 * or a submission that will never finish (its process was killed).
 */
const STALE_MS = 10 * 60_000;

/** Everything a server or dispatcher process runs on, opened in order and closed in reverse. */
export interface Services extends OperationContext {
  /** Who sent a request (auth/). */
  auth: Authenticator;
  db: Knex;
  store: JobStore;
  queue: JobQueue;
  events: JobEvents;
  files: JobFiles;
  publisher: StatusPublisher;
  lifecycle: JobLifecycle;
  /** Scheduler monitors by scheduler name (in processes that dispatch). */
  monitors: Map<string, SchedulerMonitor>;
  dispatcher: Dispatcher | undefined;
  metrics: Metrics;
  sessionLinks: SessionLinks;
  close(): Promise<void>;
}

export interface OpenOptions {
  log?: Log;
  /** Run a dispatcher in this process (default: as configured). */
  dispatch?: boolean;
}

export async function openServices(config: Config, processes: readonly ProcessDefinition[], opts: OpenOptions = {}): Promise<Services> {
  const startedAt = new Date();
  const log = opts.log ?? jsonLog;
  const registry = new ProcessRegistry(withSessionApps(processes, config), config.auth?.processes);
  const { db, applied } = await openMigratedDatabase(databaseOptions(config), log);
  if (applied.length > 0) log({ level: 'info', msg: 'migrated', migrations: applied });
  const store = new JobStore(db);
  // Made now so that /ready is true from the start; a volume that refuses is /ready's to report.
  for (const dir of [config.storageDir, config.jobsDir]) {
    await mkdir(dir, { recursive: true }).catch((err: Error) => log({ level: 'error', msg: 'directory not created', dir, err: err.message }));
  }
  const queue: JobQueue = config.redisUrl ? new BullMqQueue(config.redisUrl, config.queueName, config.queueLockMs) : new InProcessQueue();
  const events = new JobEvents(config.redisUrl, config.queueName);
  const files = new JobFiles(config.jobsDir);
  const endpoint = `${config.baseUrl}/wps`;
  const updateSequence = await offeringSequence(db, offeringDigest(config, registry, endpoint));
  const writer = new FileWriter(config.writerThreads);
  // Without Redis, jobs live in this process's queue: no other server writes their documents.
  const singleWriter = !config.redisUrl;
  const sessionLinks = new SessionLinks(config.sessions.url, {
    appOf: (processId) => registry.get(processId)?.session,
    secretOf: async (jobId) => (await files.readSpec(jobId).catch(() => undefined))?.session?.secret,
  });
  const publisher = new StatusPublisher({
    // The secret only where the document is as private as the session: its owner's
    // (protectOutputs), or nothing is protected (auth off). A status document is otherwise
    // a capability URL whose address follows from the job id, which every session URL shows.
    sessionLink: (job) => (!config.auth || config.auth.protectOutputs ? sessionLinks.link(job) : Promise.resolve(sessionLinks.url(job))),
    store,
    registry,
    files,
    writer,
    outputDir: config.storageDir,
    outputUrl: config.outputUrl,
    endpoint,
    defaultLanguage: config.languages[0]!,
    singleWriter,
    log,
  });
  const outputs = new OutputStore(config.storageDir, config.outputUrl);
  const lifecycle = new JobLifecycle(store, publisher, files, events, outputs, config.sessions.resources);
  const callbacks = new Callbacks(config.references, {
    // For a third party: no session link (its secret is the owner's).
    statusInfo: statusInfoWriter({ baseUrl: config.baseUrl, statusLocation: (id) => publisher.statusLocation(id) }),
    results: (result) => (result.state === 'succeeded' ? Object.fromEntries(result.outputs.map((o) => [o.identifier, resultValue(o)])) : {}),
  }, log);
  lifecycle.onChange = (job, result) => callbacks.notify(job, result);
  const mapping = config.sessions.proxyFile ? new ProxyMappingFile(config.sessions.proxyFile, store, log) : undefined;
  let unsubscribeMapping: (() => void) | undefined;
  if (mapping) {
    lifecycle.onSessionsChanged = () => void mapping.update();
    // A session another server ended: this file names it until rewritten.
    unsubscribeMapping = events.onFinished((id) => mapping.names(id) && void mapping.update());
    await mapping.update();
  }
  const metrics = new Metrics();
  metrics.add(
    new Gauge('wps_jobs', 'Jobs in the store by state', async () => {
      const counts = await store.countByState();
      return JOB_STATES.map((state) => [{ state }, counts.get(state) ?? 0]);
    }),
  );
  metrics.add(
    new Gauge('wps_status_documents_unwritten', 'Status documents storage refused, written again until it takes them', async () => [[{}, publisher.unwrittenCount]]),
  );
  if (config.metricsPerUser) {
    // One query a scrape for all four series, which name users: for admins only.
    let scrape: { at: number; rows: Promise<Awaited<ReturnType<JobStore['usageByUser']>>> } | undefined;
    const usage = () => {
      if (!scrape || Date.now() - scrape.at > 1000) scrape = { at: Date.now(), rows: store.usageByUser() };
      return scrape.rows;
    };
    metrics.add(new Gauge('wps_user_jobs_unfinished', 'Jobs waiting or running, by user', async () => (await usage()).map((u) => [{ user: u.owner }, u.unfinished]), true));
    metrics.add(new Gauge('wps_user_jobs_running', 'Jobs running, by user', async () => (await usage()).map((u) => [{ user: u.owner }, u.running]), true));
    metrics.add(new Gauge('wps_user_core_seconds_held', 'Core-seconds unfinished jobs hold (declared cores x wall time), by user', async () => (await usage()).map((u) => [{ user: u.owner }, u.holding]), true));
    metrics.add(new Gauge('wps_user_core_seconds_used', 'Core-seconds ended jobs used (charged), by user, since the server first saw them', async () => (await usage()).map((u) => [{ user: u.owner }, u.spent]), true));
  }
  metrics.add(new Gauge('wps_queue_depth', 'Accepted jobs not yet handed to a scheduler or runner', async () => [[{}, await store.countWaiting()]]));
  const monitors = new Map<string, SchedulerMonitor>();
  let dispatcher: Dispatcher | undefined;
  let sweeper: NodeJS.Timeout | undefined;
  const dispatch = opts.dispatch ?? config.dispatch;
  // Where this process does not dispatch, adapters still read the batch systems' queue limits.
  const limitsOnly = dispatch ? [] : createBatchSchedulers(config);
  if (dispatch) {
    for (const scheduler of createSchedulers(config, files)) {
      scheduler.onReport?.((jobId, event) =>
        void applyRunnerEvent(lifecycle, jobId, event).catch((err: Error) =>
          log({ level: 'warn', msg: 'runner report not applied', jobId, error: err.message }),
        ),
      );
      monitors.set(scheduler.name, new SchedulerMonitor(metered(scheduler, metrics), config.jobs.monitorIntervalMs, log));
    }
    metrics.add(
      new Gauge('wps_jobs_watched', 'Jobs a dispatcher watches in each scheduler', async () =>
        [...monitors.values()].map((m) => [{ scheduler: m.scheduler.name }, m.health().watching]),
      ),
    );
    dispatcher = new Dispatcher({ config, store, queue, monitors, files, outputs, registry, lifecycle, events, log });
    await dispatcher.start();
    const sweepEvery = Math.min(config.jobs.retentionMs / 4, 3_600_000);
    let firstSweep = true;
    const sweep = async () => {
      await sweepExpiredJobs({ store, files, outputDir: config.storageDir, retentionMs: config.jobs.retentionMs })
        .then((n) => n > 0 && log({ level: 'info', msg: 'expired jobs removed', count: n }))
        .catch((err: Error) => log({ level: 'error', msg: 'retention sweep failed', err: err.message }));
      await removeStaleTemporaryFiles(config.storageDir, STALE_MS)
        .then((n) => n > 0 && log({ level: 'info', msg: 'temporary files of interrupted writes removed', count: n }))
        .catch((err: Error) => log({ level: 'error', msg: 'temporary file sweep failed', err: err.message }));
      // Synchronous runs' working directories a kill left behind (a run in progress is younger).
      await removeStaleDirectories(syncWorkdirs(config.jobsDir), STALE_MS + config.limits.syncTimeoutMs)
        .then((n) => n > 0 && log({ level: 'info', msg: 'working directories of interrupted synchronous runs removed', count: n }))
        .catch((err: Error) => log({ level: 'error', msg: 'working directory sweep failed', err: err.message }));
      // A job whose end a kill kept from its document: a lone server's own are among the last
      // thousand when it starts again; with several, any other's ended since shortly before the last sweep.
      if (firstSweep || !singleWriter) {
        const since = new Date(Date.now() - (firstSweep ? 0 : sweepEvery) - STALE_MS);
        await republishStaleDocuments(store, publisher, since, 1000)
          .then((n) => n > 0 && log({ level: 'info', msg: 'status documents of finished jobs brought up to date', count: n }))
          .catch((err: Error) => log({ level: 'error', msg: 'stale document sweep failed', err: err.message }));
      }
      firstSweep = false;
      // A lone server's own submissions all began after it started: any older document without a job is left from before.
      const writtenBefore = new Date(Math.max(Date.now() - STALE_MS, singleWriter ? startedAt.getTime() : 0));
      await removeOrphanDocuments(store, config.storageDir, writtenBefore)
        .then((n) => n > 0 && log({ level: 'info', msg: 'status documents of submissions cut short removed', count: n }))
        .catch((err: Error) => log({ level: 'error', msg: 'orphan document sweep failed', err: err.message }));
    };
    void sweep();
    sweeper = setInterval(sweep, sweepEvery);
    sweeper.unref();
  }
  // Every scheduler this process holds: the dispatcher's, or the batch adapters that only read limits.
  const heldSchedulers = [...[...monitors.values()].map((m) => m.scheduler), ...limitsOnly];
  return {
    config,
    registry,
    outputs,
    endpoint,
    updateSequence,
    auth: authenticator(config.auth),
    syncSlots: new Slots(config.limits.maxSyncExecutions),
    requestMemory: new ByteBudget(config.limits.requestMemory),
    jobs: {
      store,
      queue,
      publisher,
      lifecycle,
      maxWaiting: config.jobs.maxWaiting,
      quotas: config.quotas,
      reservationOf: (process) => reservationOf(process, config),
      // The dispatcher's schedulers where this process dispatches; else their adapters, for reading limits only.
      queueLimits: new QueueLimits(
        new Map(heldSchedulers.map((s) => [s.name, s])),
        config,
        log,
      ),
    },
    db,
    store,
    queue,
    events,
    files,
    publisher,
    lifecycle,
    monitors,
    dispatcher,
    log,
    metrics,
    sessionLinks,
    async close() {
      clearInterval(sweeper);
      unsubscribeMapping?.();
      await dispatcher?.stop();
      for (const s of heldSchedulers) await s.close();
      await queue.close();
      await events.close();
      publisher.close();
      await writer.close();
      await db.destroy();
    },
  };
}

/** The processes of packages, and the config's session apps (names must not clash). */
function withSessionApps(processes: readonly ProcessDefinition[], config: Config): ProcessDefinition[] {
  const apps = Object.entries(config.sessions.apps).map(([name, entry]) => {
    if (processes.some((p) => p.identifier === name)) throw new ConfigError(`sessions.apps.${name}: a process of that identifier is offered already`);
    try {
      return appProcess(name, entry, entry.sanitize);
    } catch (err) {
      throw new ConfigError(`sessions.apps.${name}: ${(err as Error).message}`);
    }
  });
  return [...processes, ...apps];
}

/**
 * The local scheduler always (jobs handed to it earlier must stay reachable), and each
 * batch system the configuration names.
 */
function createSchedulers(config: Config, files: JobFiles): Scheduler[] {
  return [
    new LocalScheduler({
      slots: config.jobs.parallel,
      warm: config.jobs.warmRunners,
      runnerCommand: { command: process.execPath, args: [MAIN_SCRIPT, 'runner'] },
      env: process.env,
      files,
      killGraceMs: config.jobs.killGraceMs,
    }),
    ...createBatchSchedulers(config),
  ];
}

/** Each batch system the configuration names, sharing one transport (here, or over ssh). */
function createBatchSchedulers(config: Config): Scheduler[] {
  const sc = config.schedulers;
  const named = new Set([sc.default, ...Object.values(sc.processes).map((p) => p.scheduler ?? sc.default)]);
  if (!named.has('gridengine') && !named.has('slurm')) return [];
  const transport: Transport = sc.ssh
    ? new SshTransport(sc.ssh.nodes, { strictHostKeys: sc.ssh.strictHostKeys, ...(sc.ssh.knownHosts ? { knownHostsFile: sc.ssh.knownHosts } : {}) })
    : new LocalTransport();
  const schedulers: Scheduler[] = [];
  if (named.has('gridengine')) schedulers.push(new GridEngineScheduler({ transport, parallelEnvironment: sc.gridengine.parallelEnvironment, ...(sc.gridengine.commands ? { commands: sc.gridengine.commands } : {}) }));
  if (named.has('slurm')) schedulers.push(new SlurmScheduler({ transport }));
  return schedulers;
}
