import { readFileSync } from 'node:fs';
import ipaddr from 'ipaddr.js';
import { hashSecret } from './secrets.js';
import type { PortPool } from './sessions/app.js';
import type { SanitizeRule, SessionDeclaration } from './sessions/declare.js';
import { dirname, resolve } from 'node:path';

/**
 * Server configuration: built-in defaults, overlaid by an optional JSON file
 * (`WPS_CONFIG` or `--config`), overlaid by environment variables. The result is
 * frozen; every part receives the slice it needs.
 */

export interface ContactInfo {
  individualName?: string;
  positionName?: string;
  phone?: string;
  facsimile?: string;
  deliveryPoint?: string;
  city?: string;
  administrativeArea?: string;
  postalCode?: string;
  country?: string;
  email?: string;
  url?: string;
  hoursOfService?: string;
  contactInstructions?: string;
  role?: string;
}

export interface ServiceMetadata {
  title: string;
  abstract: string;
  keywords: string[];
  fees: string;
  accessConstraints: string[];
  provider: { name: string; site?: string };
  contact: ContactInfo;
}

export interface Limits {
  /** Largest request body (XML POST) in bytes. */
  maxRequestSize: number;
  /** Longest KVP query string in bytes. */
  maxQueryLength: number;
  /** Largest single input fetched by reference, in bytes (a process may declare less). */
  maxInputSize: number;
  /** Time allowed for fetching one reference, in milliseconds. */
  referenceTimeoutMs: number;
  /** Time a synchronous Execute may run inline, in milliseconds. */
  syncTimeoutMs: number;
  /** Deepest element nesting accepted in an XML request. */
  maxXmlDepth: number;
  /** Most elements accepted in an XML request (large XML inputs go by reference). */
  maxXmlElements: number;
  /** Synchronous Executes running at once; one more is answered ServerBusy. */
  maxSyncExecutions: number;
  /** References one Execute may give (checked before anything is fetched or accepted). */
  maxReferences: number;
  /** Bytes all of one request's references may add up to. */
  maxFetchedBytes: number;
  /**
   * Bytes the server holds at once for requests in progress: bodies being read and
   * references fetched for synchronous runs. Beyond, ServerBusy.
   */
  requestMemory: number;
  /** Time a client has to send a whole request (head and body), in milliseconds. */
  requestTimeoutMs: number;
  /** Time a client has to send a request's head, in milliseconds. */
  headersTimeoutMs: number;
  /** Connections open at once; more are closed as they arrive. */
  maxConnections: number;
}

export interface ReferencePolicy {
  /** Host names (`example.org`, `*.example.org`) or CIDR ranges that may be fetched. */
  allow: string[];
  /** Host names or CIDR ranges that are never fetched, even when allowed. */
  deny: string[];
}

export interface JobsConfig {
  /** Jobs run (or handed to the batch system) at once, per dispatcher. */
  parallel: number;
  /** Accepted jobs allowed to wait; beyond, Execute answers ServerBusy. */
  maxWaiting: number;
  /** Wall-clock limit of a job unless its process declares one. */
  wallTimeSeconds: number;
  /** How long finished jobs (rows, status documents, outputs) are kept. */
  retentionMs: number;
  /** How often a dispatcher asks the scheduler about the jobs it watches. */
  monitorIntervalMs: number;
  /** Local scheduler: keep warm runner processes (else a fresh process per job). */
  warmRunners: boolean;
  /** URL under which runners reach this server to report (compute nodes may need another than baseUrl). */
  internalUrl: string;
  /** How long past its wall-clock limit a job may run before the dispatcher stops it (a scheduler may count in minutes). */
  wallGraceMs: number;
  /** Between SIGTERM and SIGKILL when the local scheduler stops a job: its time to end cleanly. */
  killGraceMs: number;
  /** How often unfinished jobs are queued again (recovering from a queue or database outage). */
  requeueIntervalMs: number;
}

export const SCHEDULER_NAMES = ['local', 'gridengine', 'slurm'] as const;

/** Container engines cwltool may run a CWL tool's DockerRequirement with; 'none' runs every tool on the host. */
export const CWL_CONTAINER_ENGINES = ['none', 'docker', 'podman'] as const;
export type CwlContainers = (typeof CWL_CONTAINER_ENGINES)[number];
export type SchedulerName = (typeof SCHEDULER_NAMES)[number];

/** Where and how one process's jobs run (overrides of the scheduler's defaults). */
export interface ProcessPlacement {
  scheduler?: SchedulerName;
  /** GridEngine queue or Slurm partition. */
  queue?: string;
  /** GridEngine project or Slurm account. */
  project?: string;
  nativeOptions?: string[];
  /** Seconds; overrides the process's own declaration. */
  wallTime?: number;
}

export interface SshNodeConfig {
  host: string;
  port?: number;
  user?: string;
  key?: string;
}

export interface SchedulersConfig {
  default: SchedulerName;
  gridengine: {
    queue?: string;
    project?: string;
    nativeOptions: string[];
    parallelEnvironment: string;
    /** GridEngine's own commands (say Debian's /usr/lib/gridengine, past its wrappers), with the SGE_ROOT and SGE_CELL they need. */
    commands?: { dir: string; root?: string; cell?: string };
  };
  slurm: { partition?: string; account?: string; nativeOptions: string[] };
  /** Run the batch system's commands over ssh on these command nodes (else here). */
  ssh: { nodes: SshNodeConfig[]; knownHosts?: string; strictHostKeys: boolean } | undefined;
  processes: Record<string, ProcessPlacement>;
  /** The runner command as compute nodes see it: Node and this install's CLI. */
  runner: { node: string; script: string | undefined };
  /**
   * The account (Slurm `--account`) or project (GridEngine `-P`) a user's jobs are
   * charged to on the cluster: the user's entry, else their first group's that has one;
   * else the process's or scheduler's project.
   */
  accounts: { users: Record<string, string>; groups: Record<string, string> };
  /**
   * Batch jobs are submitted as their owner's Unix account (the WPS user name), through
   * `sudo -n -u` on the command node, as bwVisu's middleware does.
   */
  runAsUser: boolean;
}

/** A static API token: its user, groups and rights; the token itself only as its SHA-256. */
export interface TokenEntry {
  user: string;
  /** Hex SHA-256 of the token (`wps-server token new` prints an entry). */
  sha256: string;
  groups: string[];
  admin: boolean;
}

/** Who may see and execute a process: these users and members of these groups (and admins). */
export interface ProcessAccess {
  users: string[];
  groups: string[];
}

/** Who callers are (auth/), and what that allows. */
export interface AuthConfig {
  /** OpenID Connect issuer whose access tokens (JWT) are accepted; its keys come by discovery. */
  issuer: string | undefined;
  /** Accepted `aud` values of access tokens (one is needed with an issuer). */
  audience: string[];
  /** The claim naming the user (falls back to `sub`). */
  userClaim: string;
  /** The claim listing the user's groups. */
  groupsClaim: string;
  /** A token signed with a key not in the cached key set fetches it again, at most this often (ms). */
  jwksCooldownMs: number;
  tokens: TokenEntry[];
  /** A front end's header naming the user (e.g. X-Forwarded-User), believed only from trustedProxies. */
  userHeader: string | undefined;
  /** The front end's header listing the user's groups, comma-separated. */
  groupsHeader: string | undefined;
  /** Addresses or CIDR ranges of the front ends whose headers are believed. */
  trustedProxies: string[];
  /** Users and groups who see and manage every user's jobs. */
  admins: ProcessAccess;
  /** Status documents and outputs only for their job's owner (else capability URLs). */
  protectOutputs: boolean;
  /** Per process identifier: who may see and execute it (over the process's own declaration). */
  processes: Record<string, ProcessAccess>;
}

export const QUOTA_PERIODS = ['day', 'week', 'month'] as const;
export type QuotaPeriod = (typeof QUOTA_PERIODS)[number];

/** What one user may hold: jobs at once and compute in a period (unset: no limit). */
export interface QuotaLimits {
  /** Jobs running (handed to a scheduler) at once; more wait their turn. */
  running?: number;
  /** Jobs waiting besides those: with `running`, how many unfinished jobs a user may have. */
  waiting?: number;
  /** Core-hours per period: declared cores × wall time held while a job is unfinished, what it used once ended. */
  coreHours?: number;
  period?: QuotaPeriod;
}

/** Limits by default, per group (the most generous of a user's groups counts) and per user (over both). */
export interface QuotasConfig {
  default: QuotaLimits;
  groups: Record<string, QuotaLimits>;
  users: Record<string, QuotaLimits>;
}

/** One app of `sessions.apps`: offered as a session process of its name. */
export type SessionAppEntry = Omit<SessionDeclaration, 'identifier' | 'title' | 'inputs' | 'access'> & { title?: string; sanitize: Record<string, SanitizeRule> };

/** Interactive sessions (sessions/): the apps, where they may listen, and the launcher API. */
export interface SessionsConfig {
  apps: Record<string, SessionAppEntry>;
  /** Hosts and port ranges sessions may listen on: the only places the proxy forwards to. */
  resources: PortPool[];
  /** Values every app's command may name (the launcher's `properties`). */
  properties: Record<string, string>;
  /** Rules for values clients send, by variable name (the launcher's `sanitize`); an app's own rules come first. */
  sanitize: Record<string, SanitizeRule>;
  /** Path of the ParaViewWeb launcher API. */
  endpoint: string;
  /** Fields a launcher answer gives besides id, sessionURL and sessionManagerURL. */
  fields: string[];
  /** Values added to every launcher answer (templates over the session's fields). */
  sessionData: Record<string, string>;
  /** Seconds a launcher request waits for its session to be ready. */
  timeoutSeconds: number;
  /** The launcher's proxy mapping file (`id host:port` lines), for a front end that proxies itself. */
  proxyFile: string | undefined;
  /** Public base URL of /sessions/ (default: baseUrl): another origin keeps applications' pages away from the server's. */
  url: string;
}

export interface Config {
  /** Interactive sessions; their apps are offered as processes. */
  sessions: SessionsConfig;
  /** /metrics also has series per user (one label value per user: mind the cardinality). */
  metricsPerUser: boolean;
  /** Per-user limits on jobs and compute; undefined: none. Applies to callers with a user name. */
  quotas: QuotasConfig | undefined;
  /**
   * Who callers are; undefined when authentication is off (`auth: "none"`, or unset on a
   * loopback address): every caller may then do everything, as one user.
   */
  auth: AuthConfig | undefined;
  /**
   * Why this server may not listen: its host is reachable from other machines and `auth`
   * is unset (not even "none"), as Redis's protected mode refuses. Undefined: it may.
   */
  unprotected: string | undefined;
  /** CWL processes: with which engine cwltool runs a tool's DockerRequirement ('none': on the host). */
  cwl: { containers: CwlContainers };
  /**
   * Process packages to offer: npm package names, paths to modules or package
   * directories (absolute once loaded from a file). Empty: the demo processes.
   */
  processes: string[];
  port: number;
  host: string;
  /** Public base URL as clients reach the server; `/wps` and the output URL hang below it. */
  baseUrl: string;
  /** Supported languages, the first is the default. */
  languages: string[];
  storageDir: string;
  /** Public URL under which `storageDir` is served. */
  outputUrl: string;
  /** Threads writing status documents (more for storage with high latency, such as NFS). */
  writerThreads: number;
  limits: Limits;
  references: ReferencePolicy;
  metadata: ServiceMetadata;
  /** postgres://… for a Postgres job store; undefined for the embedded PGlite. */
  databaseUrl: string | undefined;
  /** Postgres schema for the job tables (default: the connection's search path). */
  databaseSchema: string | undefined;
  /** How long a start waits for a Postgres that does not answer yet (ms) before giving up. */
  databaseWaitMs: number;
  /** Where PGlite keeps the embedded database. */
  pgliteDir: string;
  /** redis://… for the shared BullMQ queue; undefined for the in-process queue. */
  redisUrl: string | undefined;
  queueName: string;
  /** BullMQ: how long a dispatcher's hold on a job lasts unrenewed; a dead dispatcher's jobs move on after it. */
  queueLockMs: number;
  /** Job directories (spec, result, logs) on storage the compute nodes share. */
  jobsDir: string;
  /** Whether this process dispatches jobs (always, with the in-process queue). */
  dispatch: boolean;
  jobs: JobsConfig;
  schedulers: SchedulersConfig;
}

/** An app as the launcher's config writes it, with this server's additions in the same style. */
export type SessionAppFileEntry = {
  cmd?: string[];
  ready_line?: string;
  timeout?: number;
  idle_timeout?: string | number;
  wall_time?: string | number;
  cores?: number;
  memory?: string | number;
  keep_prefix?: boolean;
  path?: string;
  title?: string;
  abstract?: string;
  env?: Record<string, string>;
  sanitize?: Record<string, SanitizeRule>;
};

export type TokenFileEntry = { user?: string; token?: string; sha256?: string; groups?: string[]; admin?: boolean };

export type ConfigFile = {
  /** Paths relative to the file's own directory. */
  processes?: string[];
  quotas?: { default?: QuotaLimits; groups?: Record<string, QuotaLimits>; users?: Record<string, QuotaLimits> };
  metrics?: { perUser?: boolean };
  auth?:
    | 'none'
    | {
        issuer?: string;
        audience?: string | string[];
        userClaim?: string;
        groupsClaim?: string;
        jwksCooldown?: number;
        tokens?: TokenFileEntry[];
        userHeader?: string;
        groupsHeader?: string;
        trustedProxies?: string[];
        admins?: Partial<ProcessAccess>;
        protectOutputs?: boolean;
        processes?: Record<string, Partial<ProcessAccess>>;
      };
  cwl?: { containers?: string };
  server?: { port?: number; host?: string; baseUrl?: string; languages?: string[] };
  storage?: { dir?: string; url?: string; writerThreads?: number };
  limits?: {
    maxRequestSize?: string | number;
    maxQueryLength?: string | number;
    maxInputSize?: string | number;
    referenceTimeout?: number;
    syncTimeout?: number;
    maxXmlDepth?: number;
    maxXmlElements?: number;
    maxSyncExecutions?: number;
    maxReferences?: number;
    maxFetchedBytes?: string | number;
    requestMemory?: string | number;
    requestTimeout?: number;
    headersTimeout?: number;
    maxConnections?: number;
  };
  references?: Partial<ReferencePolicy>;
  database?: { url?: string; schema?: string; pgliteDir?: string; wait?: string | number };
  queue?: { redisUrl?: string; name?: string; lock?: number };
  jobs?: {
    dir?: string;
    parallel?: number;
    maxWaiting?: number;
    wallTime?: number;
    retention?: string | number;
    monitorInterval?: number;
    warmRunners?: boolean;
    internalUrl?: string;
    dispatch?: boolean;
    wallGrace?: number;
    killGrace?: number;
    requeueInterval?: number;
  };
  scheduler?: {
    default?: SchedulerName;
    gridengine?: Partial<Omit<SchedulersConfig['gridengine'], 'commands'>> & { commands?: string; root?: string; cell?: string };
    slurm?: Partial<SchedulersConfig['slurm']>;
    ssh?: { nodes?: SshNodeConfig[]; knownHosts?: string; strictHostKeys?: boolean };
    processes?: Record<string, ProcessPlacement>;
    runner?: { node?: string; script?: string };
    accounts?: { users?: Record<string, string>; groups?: Record<string, string> };
    runAsUser?: boolean;
  };
  sessions?: {
    apps?: Record<string, SessionAppFileEntry>;
    resources?: { host?: string; port_range?: [number, number] }[];
    properties?: Record<string, string>;
    sanitize?: Record<string, SanitizeRule>;
    endpoint?: string;
    fields?: string[];
    sessionData?: Record<string, string>;
    timeout?: number;
    proxy_file?: string;
    /** The launcher's own: a URL template whose path becomes each app's default `path`. */
    sessionURL?: string;
    url?: string;
  };
  metadata?: Partial<Omit<ServiceMetadata, 'provider' | 'contact'>> & {
    provider?: Partial<ServiceMetadata['provider']>;
    contact?: ContactInfo;
  };
};

export class ConfigError extends Error {}

const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** `3mb`, `512 KB`, `1048576` → bytes. */
export function parseSize(value: string | number, name: string): number {
  if (typeof value === 'number' && Number.isInteger(value) && value > 0) return value;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?b?)\s*$/i.exec(String(value));
  if (!m) throw new ConfigError(`${name}: not a size: ${JSON.stringify(value)} (use e.g. 3mb)`);
  const bytes = Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase().replace(/^([kmg])$/, '$1b')]!);
  if (bytes <= 0) throw new ConfigError(`${name}: must be positive`);
  return bytes;
}

function parsePositive(value: string | number, name: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new ConfigError(`${name}: not a positive number: ${value}`);
  return n;
}

const DURATION_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `7d`, `12h`, `30m`, `45s`, or a number of seconds → milliseconds. */
export function parseDuration(value: string | number, name: string): number {
  if (typeof value === 'number' && value > 0) return value * 1000;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$/i.exec(String(value));
  if (!m || Number(m[1]) <= 0) throw new ConfigError(`${name}: not a duration: ${JSON.stringify(value)} (use e.g. 7d, 12h, 30m)`);
  return Number(m[1]) * DURATION_UNITS[(m[2] || 's').toLowerCase()]!;
}

function parseFlag(value: string | boolean, name: string): boolean {
  if (typeof value === 'boolean') return value;
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new ConfigError(`${name}: not true or false: ${value}`);
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function parseOptions(value: unknown, name: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && !CONTROL.test(v))) {
    throw new ConfigError(`${name}: must be a list of strings (one argument each)`);
  }
  return value as string[];
}

function parseAbsolutePath(value: unknown, name: string): string {
  if (typeof value !== 'string' || !/^\/[^\0\n]*$/.test(value)) throw new ConfigError(`${name} must be an absolute path`);
  return value.replace(/\/+$/, '') || '/';
}

function parseCell(value: unknown): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(value)) throw new ConfigError('scheduler.gridengine.cell must be a GridEngine cell name');
  return value;
}

function parseSchedulerName(value: string, name: string): SchedulerName {
  if (!(SCHEDULER_NAMES as readonly string[]).includes(value)) {
    throw new ConfigError(`${name}: ${value} is not one of ${SCHEDULER_NAMES.join(', ')}`);
  }
  return value as SchedulerName;
}

/** `user@host:port,host2` → ssh command nodes. */
function parseSshNodes(value: string, key: string | undefined): SshNodeConfig[] {
  return list(value).map((entry) => {
    const m = /^(?:([^@\s]+)@)?([^:@\s]+)(?::(\d+))?$/.exec(entry);
    if (!m) throw new ConfigError(`WPS_SSH_NODES: not user@host[:port]: ${entry}`);
    const node: SshNodeConfig = { host: m[2]! };
    if (m[1]) node.user = m[1];
    if (m[3]) node.port = parsePort(m[3], 'WPS_SSH_NODES');
    if (key) node.key = key;
    return node;
  });
}

function parseSchedulers(env: NodeJS.ProcessEnv, f: NonNullable<ConfigFile['scheduler']>): SchedulersConfig {
  const processes: Record<string, ProcessPlacement> = {};
  for (const [id, p] of Object.entries(f.processes ?? {})) {
    const placement: ProcessPlacement = { ...p };
    if (p.scheduler) placement.scheduler = parseSchedulerName(p.scheduler, `scheduler.processes.${id}.scheduler`);
    if (p.nativeOptions) placement.nativeOptions = parseOptions(p.nativeOptions, `scheduler.processes.${id}.nativeOptions`);
    if (p.wallTime !== undefined) placement.wallTime = Math.ceil(parsePositive(p.wallTime, `scheduler.processes.${id}.wallTime`));
    processes[id] = placement;
  }
  const sshNodes = env.WPS_SSH_NODES ? parseSshNodes(env.WPS_SSH_NODES, env.WPS_SSH_KEY) : f.ssh?.nodes;
  const knownHosts = env.WPS_SSH_KNOWN_HOSTS ?? f.ssh?.knownHosts;
  const gridengine: SchedulersConfig['gridengine'] = {
    nativeOptions: parseOptions(f.gridengine?.nativeOptions, 'scheduler.gridengine.nativeOptions'),
    parallelEnvironment: f.gridengine?.parallelEnvironment ?? 'smp',
  };
  if (f.gridengine?.queue) gridengine.queue = f.gridengine.queue;
  if (f.gridengine?.project) gridengine.project = f.gridengine.project;
  const commands = env.WPS_GRIDENGINE_COMMANDS ?? f.gridengine?.commands;
  if (commands) {
    gridengine.commands = { dir: parseAbsolutePath(commands, 'scheduler.gridengine.commands') };
    if (f.gridengine?.root) gridengine.commands.root = parseAbsolutePath(f.gridengine.root, 'scheduler.gridengine.root');
    if (f.gridengine?.cell) gridengine.commands.cell = parseCell(f.gridengine.cell);
  }
  const slurm: SchedulersConfig['slurm'] = { nativeOptions: parseOptions(f.slurm?.nativeOptions, 'scheduler.slurm.nativeOptions') };
  if (f.slurm?.partition) slurm.partition = f.slurm.partition;
  if (f.slurm?.account) slurm.account = f.slurm.account;
  return {
    default: parseSchedulerName(env.WPS_SCHEDULER ?? f.default ?? 'local', 'WPS_SCHEDULER'),
    gridengine,
    slurm,
    ssh: sshNodes && sshNodes.length > 0
      ? { nodes: sshNodes, strictHostKeys: f.ssh?.strictHostKeys ?? true, ...(knownHosts ? { knownHosts } : {}) }
      : undefined,
    processes,
    runner: { node: env.WPS_RUNNER_NODE ?? f.runner?.node ?? process.execPath, script: env.WPS_RUNNER_SCRIPT ?? f.runner?.script },
    accounts: { users: parseAccounts(f.accounts?.users, 'scheduler.accounts.users'), groups: parseAccounts(f.accounts?.groups, 'scheduler.accounts.groups') },
    runAsUser: parseFlag(env.WPS_RUN_AS_USER ?? f.runAsUser ?? false, 'scheduler.runAsUser'),
  };
}

const NAME = /^[^\s,\u0000-\u001f\u007f]{1,256}$/;

function parseNames(value: unknown, name: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && NAME.test(v))) {
    throw new ConfigError(`${name}: must be a list of names (no spaces or commas)`);
  }
  return value as string[];
}

function parseAccess(value: Partial<ProcessAccess> | undefined, name: string): ProcessAccess {
  return { users: parseNames(value?.users, `${name}.users`), groups: parseNames(value?.groups, `${name}.groups`) };
}

function parseToken(entry: TokenFileEntry, i: number): TokenEntry {
  const name = `auth.tokens[${i}]`;
  if (typeof entry.user !== 'string' || !NAME.test(entry.user)) throw new ConfigError(`${name}.user: a user name is needed`);
  if ((entry.token === undefined) === (entry.sha256 === undefined)) throw new ConfigError(`${name}: give either token or sha256`);
  if (entry.sha256 !== undefined && !/^[0-9a-f]{64}$/i.test(entry.sha256)) throw new ConfigError(`${name}.sha256: not a hex SHA-256`);
  if (entry.token !== undefined && (typeof entry.token !== 'string' || entry.token.length < 16)) throw new ConfigError(`${name}.token: at least 16 characters`);
  return {
    user: entry.user,
    sha256: entry.sha256?.toLowerCase() ?? hashSecret(entry.token!),
    groups: parseNames(entry.groups, `${name}.groups`),
    admin: entry.admin === true,
  };
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  return ipaddr.isValid(host) && ipaddr.process(host).range() === 'loopback';
}

/** Unset or "none": off (a server other machines can reach then refuses to start unless it says "none"; see `unprotected`). */
function parseAuth(env: NodeJS.ProcessEnv, f: ConfigFile['auth']): AuthConfig | undefined {
  // Empty variables count as unset (compose files pass them through empty).
  const issuer = (env.WPS_AUTH_ISSUER || undefined) ?? (f === 'none' ? undefined : f?.issuer);
  if ((f === 'none' || f === undefined) && issuer === undefined) return undefined;
  const a = f === 'none' || f === undefined ? {} : f;
  const audienceValue = (env.WPS_AUTH_AUDIENCE || undefined) ?? a.audience;
  const audience = audienceValue === undefined ? [] : typeof audienceValue === 'string' ? list(audienceValue) : parseNames(audienceValue, 'auth.audience');
  if (issuer !== undefined) {
    stripSlash(issuer, 'auth.issuer');
    if (audience.length === 0) throw new ConfigError('auth.audience: an issuer needs the audience its tokens must name (WPS_AUTH_AUDIENCE)');
  }
  const tokens = (a.tokens ?? []).map(parseToken);
  const seen = new Set<string>();
  for (const t of tokens) {
    if (seen.has(t.sha256)) throw new ConfigError(`auth.tokens: the same token is given twice (user ${t.user})`);
    seen.add(t.sha256);
  }
  const userHeader = env.WPS_AUTH_USER_HEADER ?? a.userHeader;
  const trustedProxies = env.WPS_AUTH_TRUSTED_PROXIES !== undefined ? list(env.WPS_AUTH_TRUSTED_PROXIES) : parseNames(a.trustedProxies, 'auth.trustedProxies');
  if (userHeader !== undefined && trustedProxies.length === 0) throw new ConfigError('auth.userHeader needs auth.trustedProxies: the front ends whose header is believed');
  for (const p of trustedProxies) {
    if (!ipaddr.isValid(p) && !ipaddr.isValidCIDR(p)) throw new ConfigError(`auth.trustedProxies: not an address or CIDR range: ${p}`);
  }
  const processes: Record<string, ProcessAccess> = {};
  for (const [id, access] of Object.entries(a.processes ?? {})) processes[id] = parseAccess(access, `auth.processes.${id}`);
  return {
    issuer: issuer?.replace(/\/+$/, ''),
    audience,
    // OIDC's stable, unique identifier: `preferred_username` may be changed by its user at some providers (and is not unique by the standard).
    userClaim: a.userClaim ?? 'sub',
    groupsClaim: a.groupsClaim ?? 'groups',
    jwksCooldownMs: a.jwksCooldown === 0 ? 0 : parseDuration(a.jwksCooldown ?? 30, 'auth.jwksCooldown'),
    tokens,
    userHeader: userHeader?.toLowerCase(),
    groupsHeader: a.groupsHeader?.toLowerCase(),
    trustedProxies,
    admins: parseAccess(a.admins, 'auth.admins'),
    protectOutputs: parseFlag(env.WPS_AUTH_PROTECT_OUTPUTS ?? a.protectOutputs ?? false, 'auth.protectOutputs'),
    processes,
  };
}

function parseLimits(value: QuotaLimits | undefined, name: string): QuotaLimits {
  const limits: QuotaLimits = {};
  if (value === undefined) return limits;
  if (typeof value !== 'object' || value === null) throw new ConfigError(`${name}: must be an object of running, waiting, coreHours, period`);
  for (const key of Object.keys(value)) {
    if (!['running', 'waiting', 'coreHours', 'period'].includes(key)) throw new ConfigError(`${name}.${key}: not a quota (running, waiting, coreHours, period)`);
  }
  for (const key of ['running', 'waiting'] as const) {
    const n = value[key];
    if (n === undefined) continue;
    if (!Number.isInteger(n) || n < 0) throw new ConfigError(`${name}.${key}: a whole number of jobs, not ${JSON.stringify(n)}`);
    limits[key] = n;
  }
  if (value.coreHours !== undefined) {
    if (typeof value.coreHours !== 'number' || !(value.coreHours >= 0)) throw new ConfigError(`${name}.coreHours: a number of core-hours, not ${JSON.stringify(value.coreHours)}`);
    limits.coreHours = value.coreHours;
  }
  if (value.period !== undefined) {
    if (!(QUOTA_PERIODS as readonly string[]).includes(value.period)) throw new ConfigError(`${name}.period: ${QUOTA_PERIODS.join(', ')}, not ${JSON.stringify(value.period)}`);
    limits.period = value.period;
  }
  return limits;
}

function parseQuotas(q: ConfigFile['quotas']): QuotasConfig | undefined {
  if (q === undefined) return undefined;
  const each = (entries: Record<string, QuotaLimits> | undefined, name: string) =>
    Object.fromEntries(Object.entries(entries ?? {}).map(([k, v]) => [k, parseLimits(v, `${name}.${k}`)]));
  return { default: parseLimits(q.default, 'quotas.default'), groups: each(q.groups, 'quotas.groups'), users: each(q.users, 'quotas.users') };
}

/** Accounts and projects become scheduler arguments: words only. */
function parseAccounts(value: Record<string, string> | undefined, name: string): Record<string, string> {
  for (const [key, account] of Object.entries(value ?? {})) {
    if (typeof account !== 'string' || !/^[A-Za-z0-9_.@:+-]{1,128}$/.test(account)) throw new ConfigError(`${name}.${key}: not an account name: ${JSON.stringify(account)}`);
  }
  return { ...value };
}

function parseSanitize(value: unknown, name: string): Record<string, SanitizeRule> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null) throw new ConfigError(`${name}: must map variable names to rules`);
  const rules: Record<string, SanitizeRule> = {};
  for (const [key, r] of Object.entries(value as Record<string, Partial<SanitizeRule> & { list?: unknown; regexp?: unknown }>)) {
    const where = `${name}.${key}`;
    if (r.default !== undefined && typeof r.default !== 'string') throw new ConfigError(`${where}.default: must be a string`);
    if (r.type === 'inList') {
      if (!Array.isArray(r.list) || !r.list.every((v) => typeof v === 'string')) throw new ConfigError(`${where}.list: must be a list of strings`);
      rules[key] = { type: 'inList', list: r.list as string[], ...(r.default !== undefined ? { default: r.default } : {}) };
    } else if (r.type === 'regexp') {
      try {
        new RegExp(String(r.regexp));
      } catch {
        throw new ConfigError(`${where}.regexp: not a regular expression`);
      }
      rules[key] = { type: 'regexp', regexp: String(r.regexp), ...(r.default !== undefined ? { default: r.default } : {}) };
    } else throw new ConfigError(`${where}.type: inList or regexp`);
  }
  return rules;
}

function parseStrings(value: unknown, name: string): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || !Object.values(value).every((v) => typeof v === 'string')) throw new ConfigError(`${name}: must map names to strings`);
  return { ...(value as Record<string, string>) };
}

function parseSessions(f: ConfigFile['sessions'], baseUrl: string): SessionsConfig {
  const s = f ?? {};
  const resources = (s.resources ?? [{ host: '127.0.0.1', port_range: [9001, 9100] }]).map((r, i): PortPool => {
    const where = `sessions.resources[${i}]`;
    if (typeof r.host !== 'string' || !/^[A-Za-z0-9.:_-]+$/.test(r.host)) throw new ConfigError(`${where}.host: a host name or address`);
    const range = r.port_range;
    if (!Array.isArray(range) || range.length !== 2) throw new ConfigError(`${where}.port_range: [first, last]`);
    const [first, last] = [parsePort(range[0], `${where}.port_range`), parsePort(range[1], `${where}.port_range`)];
    if (first < 1024 || last < first) throw new ConfigError(`${where}.port_range: from 1024 up, first not above last`);
    return { host: r.host, portRange: [first, last] };
  });
  // The launcher's sessionURL (ws://${host}:${port}/ws) names the application's own address; its path is what counts here.
  const defaultPath = s.sessionURL ? /^[a-z]+:\/\/[^/]*(\/.*)?$/i.exec(s.sessionURL)?.[1] ?? '/' : '/';
  const apps: Record<string, SessionAppEntry> = {};
  for (const [name, a] of Object.entries(s.apps ?? {})) {
    const where = `sessions.apps.${name}`;
    if (!Array.isArray(a.cmd) || a.cmd.length === 0 || !a.cmd.every((v) => typeof v === 'string' && !CONTROL.test(v))) {
      throw new ConfigError(`${where}.cmd: a list of arguments`);
    }
    if (a.ready_line !== undefined) {
      try {
        new RegExp(a.ready_line);
      } catch {
        throw new ConfigError(`${where}.ready_line: not a regular expression`);
      }
    }
    const resources: NonNullable<SessionAppEntry['resources']> = {};
    if (a.wall_time !== undefined) resources.wallTimeSeconds = Math.ceil(parseDuration(a.wall_time, `${where}.wall_time`) / 1000);
    if (a.cores !== undefined) resources.cores = Math.ceil(parsePositive(a.cores, `${where}.cores`));
    if (a.memory !== undefined) resources.memoryMb = Math.ceil(parseSize(a.memory, `${where}.memory`) / 1024 ** 2);
    const entry: SessionAppEntry = {
      cmd: a.cmd,
      timeoutSeconds: parsePositive(a.timeout ?? s.timeout ?? 60, `${where}.timeout`),
      keepPrefix: a.keep_prefix === true,
      path: a.path ?? defaultPath,
      properties: parseStrings(s.properties, 'sessions.properties'),
      env: parseStrings(a.env, `${where}.env`),
      sanitize: { ...parseSanitize(s.sanitize, 'sessions.sanitize'), ...parseSanitize(a.sanitize, `${where}.sanitize`) },
      resources,
    };
    if (!entry.path!.startsWith('/')) throw new ConfigError(`${where}.path: must start with /`);
    if (a.ready_line !== undefined) entry.readyLine = a.ready_line;
    if (a.idle_timeout !== undefined) entry.idleTimeoutSeconds = parseDuration(a.idle_timeout, `${where}.idle_timeout`) / 1000;
    if (a.title !== undefined) entry.title = a.title;
    if (a.abstract !== undefined) entry.abstract = a.abstract;
    apps[name] = entry;
  }
  const endpoint = `/${(s.endpoint ?? 'paraview').replace(/^\/+|\/+$/g, '')}`;
  if (!/^\/[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/.test(endpoint)) throw new ConfigError(`sessions.endpoint: a path, not ${JSON.stringify(s.endpoint)}`);
  return {
    apps,
    resources,
    properties: parseStrings(s.properties, 'sessions.properties'),
    sanitize: parseSanitize(s.sanitize, 'sessions.sanitize'),
    endpoint,
    fields: parseNames(s.fields, 'sessions.fields'),
    sessionData: parseStrings(s.sessionData, 'sessions.sessionData'),
    timeoutSeconds: parsePositive(s.timeout ?? 60, 'sessions.timeout'),
    proxyFile: s.proxy_file !== undefined ? resolve(s.proxy_file) : undefined,
    url: stripSlash(s.url ?? baseUrl, 'sessions.url'),
  };
}

function parsePort(value: string | number, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`${name}: not a port: ${value}`);
  return n;
}

const list = (value: string): string[] =>
  value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);

function stripSlash(url: string, name: string): string {
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
  } catch {
    throw new ConfigError(`${name}: not an http(s) URL: ${url}`);
  }
  return url.replace(/\/+$/, '');
}

function readConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as ConfigFile;
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * Builds the configuration. `overrides` takes the place of a config file section by
 * section (tests use it); `env` defaults to the process environment.
 */
export function loadConfig(
  options: { env?: NodeJS.ProcessEnv; file?: string; overrides?: ConfigFile } = {},
): Config {
  const env = options.env ?? process.env;
  const filePath = options.file ?? env.WPS_CONFIG;
  const file: ConfigFile = filePath ? readConfigFile(filePath) : {};
  const o = options.overrides ?? {};
  const database = { ...file.database, ...o.database };
  const queue = { ...file.queue, ...o.queue };
  const jobs = { ...file.jobs, ...o.jobs };
  const scheduler = { ...file.scheduler, ...o.scheduler };
  const server = { ...file.server, ...o.server };
  const storage = { ...file.storage, ...o.storage };
  const limits = { ...file.limits, ...o.limits };
  const refs = { ...file.references, ...o.references };
  const meta = { ...file.metadata, ...o.metadata };

  const port = parsePort(env.PORT ?? server.port ?? 5000, 'PORT');
  const host = env.HOST ?? server.host ?? '127.0.0.1';
  const baseUrl = stripSlash(env.WPS_BASE_URL ?? server.baseUrl ?? `http://localhost:${port}`, 'WPS_BASE_URL');
  const languages = env.WPS_LANGUAGES ? list(env.WPS_LANGUAGES) : server.languages ?? ['en-US'];
  if (languages.length === 0) throw new ConfigError('languages: at least one language is needed');

  const dataDir = resolve(env.WPS_DATA_DIR ?? 'var');
  const storageDir = resolve(env.WPS_STORAGE_DIR ?? storage.dir ?? `${dataDir}/outputs`);
  const redisUrl = env.REDIS_URL ?? queue.redisUrl;
  const dispatch = parseFlag(env.WPS_DISPATCH ?? jobs.dispatch ?? true, 'WPS_DISPATCH');
  if (!redisUrl && !dispatch) throw new ConfigError('WPS_DISPATCH=false needs REDIS_URL: the in-process queue has no other dispatcher');
  const outputUrl = stripSlash(env.WPS_OUTPUT_URL ?? storage.url ?? `${baseUrl}/outputs`, 'WPS_OUTPUT_URL');

  // Paths in a file mean the file's directory; in the environment, the working directory.
  const processes =
    env.WPS_PROCESSES !== undefined
      ? list(env.WPS_PROCESSES).map((p) => (p.startsWith('.') ? resolve(p) : p))
      : o.processes ?? (file.processes ?? []).map((p) => (p.startsWith('.') && filePath ? resolve(dirname(resolve(filePath)), p) : p));
  const containers = env.WPS_CWL_CONTAINERS ?? o.cwl?.containers ?? file.cwl?.containers ?? 'none';
  if (!(CWL_CONTAINER_ENGINES as readonly string[]).includes(containers)) {
    throw new ConfigError(`cwl.containers: ${CWL_CONTAINER_ENGINES.join(', ')}, not ${JSON.stringify(containers)}`);
  }
  const authSetting = env.WPS_AUTH === 'none' ? 'none' : o.auth ?? file.auth;
  const config: Config = {
    sessions: parseSessions(o.sessions ?? file.sessions, baseUrl),
    auth: parseAuth(env, authSetting),
    quotas: parseQuotas(o.quotas ?? file.quotas),
    metricsPerUser: parseFlag(env.WPS_METRICS_PER_USER ?? o.metrics?.perUser ?? file.metrics?.perUser ?? false, 'metrics.perUser'),
    unprotected:
      authSetting === undefined && !env.WPS_AUTH_ISSUER && !isLoopback(host)
        ? `server.host ${host} is reachable from other machines and no auth is configured: configure auth, or set it to "none" (WPS_AUTH=none) to serve without it`
        : undefined,
    cwl: { containers: containers as CwlContainers },
    processes,
    port,
    host,
    baseUrl,
    languages,
    storageDir,
    outputUrl,
    writerThreads: Math.floor(parsePositive(env.WPS_WRITER_THREADS ?? storage.writerThreads ?? 2, 'writerThreads')),
    limits: {
      maxRequestSize: parseSize(env.WPS_MAX_REQUEST_SIZE ?? limits.maxRequestSize ?? '3mb', 'maxRequestSize'),
      maxQueryLength: parseSize(env.WPS_MAX_QUERY_LENGTH ?? limits.maxQueryLength ?? '64kb', 'maxQueryLength'),
      maxInputSize: parseSize(env.WPS_MAX_INPUT_SIZE ?? limits.maxInputSize ?? '100mb', 'maxInputSize'),
      referenceTimeoutMs:
        1000 * parsePositive(env.WPS_REFERENCE_TIMEOUT ?? limits.referenceTimeout ?? 30, 'referenceTimeout'),
      syncTimeoutMs: 1000 * parsePositive(env.WPS_SYNC_TIMEOUT ?? limits.syncTimeout ?? 60, 'syncTimeout'),
      maxXmlDepth: Math.floor(parsePositive(limits.maxXmlDepth ?? 100, 'maxXmlDepth')),
      maxXmlElements: Math.floor(parsePositive(env.WPS_MAX_XML_ELEMENTS ?? limits.maxXmlElements ?? 10_000, 'maxXmlElements')),
      maxSyncExecutions: Math.floor(
        parsePositive(env.WPS_MAX_SYNC_EXECUTIONS ?? limits.maxSyncExecutions ?? 32, 'maxSyncExecutions'),
      ),
      maxReferences: Math.floor(parsePositive(env.WPS_MAX_REFERENCES ?? limits.maxReferences ?? 100, 'maxReferences')),
      maxFetchedBytes: parseSize(env.WPS_MAX_FETCHED_BYTES ?? limits.maxFetchedBytes ?? '512mb', 'maxFetchedBytes'),
      requestMemory: parseSize(env.WPS_REQUEST_MEMORY ?? limits.requestMemory ?? '32mb', 'requestMemory'),
      requestTimeoutMs: 1000 * parsePositive(env.WPS_REQUEST_TIMEOUT ?? limits.requestTimeout ?? 60, 'requestTimeout'),
      headersTimeoutMs: 1000 * parsePositive(env.WPS_HEADERS_TIMEOUT ?? limits.headersTimeout ?? 20, 'headersTimeout'),
      maxConnections: Math.floor(parsePositive(env.WPS_MAX_CONNECTIONS ?? limits.maxConnections ?? 2000, 'maxConnections')),
    },
    databaseUrl: env.DATABASE_URL ?? database.url,
    databaseSchema: env.WPS_DB_SCHEMA ?? database.schema,
    databaseWaitMs: parseDuration(env.WPS_DB_WAIT ?? database.wait ?? 60, 'database.wait'),
    pgliteDir: resolve(env.WPS_PGLITE_DIR ?? database.pgliteDir ?? `${dataDir}/db`),
    redisUrl,
    queueName: env.WPS_QUEUE_NAME ?? queue.name ?? 'wps-jobs',
    queueLockMs: parseDuration(env.WPS_QUEUE_LOCK ?? queue.lock ?? 30, 'queue lock'),
    jobsDir: resolve(env.WPS_JOBS_DIR ?? jobs.dir ?? `${dataDir}/jobs`),
    dispatch,
    jobs: {
      parallel: Math.floor(parsePositive(env.WPS_PARALLEL_JOBS ?? jobs.parallel ?? 2, 'parallel jobs')),
      maxWaiting: Math.floor(parsePositive(env.WPS_MAX_WAITING_JOBS ?? jobs.maxWaiting ?? 1000, 'maxWaiting')),
      wallTimeSeconds: Math.ceil(parseDuration(env.WPS_WALL_TIME ?? jobs.wallTime ?? 3600, 'wallTime') / 1000),
      retentionMs: parseDuration(env.WPS_RETENTION ?? jobs.retention ?? '7d', 'retention'),
      monitorIntervalMs: parseDuration(env.WPS_MONITOR_INTERVAL ?? jobs.monitorInterval ?? 2, 'monitorInterval'),
      warmRunners: parseFlag(env.WPS_WARM_RUNNERS ?? jobs.warmRunners ?? true, 'WPS_WARM_RUNNERS'),
      internalUrl: stripSlash(env.WPS_INTERNAL_URL ?? jobs.internalUrl ?? `http://127.0.0.1:${port}`, 'WPS_INTERNAL_URL'),
      wallGraceMs: parseDuration(env.WPS_WALL_GRACE ?? jobs.wallGrace ?? 30, 'wallGrace'),
      killGraceMs: parseDuration(env.WPS_KILL_GRACE ?? jobs.killGrace ?? 10, 'killGrace'),
      requeueIntervalMs: parseDuration(env.WPS_REQUEUE_INTERVAL ?? jobs.requeueInterval ?? 30, 'requeueInterval'),
    },
    schedulers: parseSchedulers(env, scheduler),
    references: {
      allow: env.WPS_REFERENCE_ALLOW !== undefined ? list(env.WPS_REFERENCE_ALLOW) : refs.allow ?? [],
      deny: env.WPS_REFERENCE_DENY !== undefined ? list(env.WPS_REFERENCE_DENY) : refs.deny ?? [],
    },
    metadata: {
      title: env.WPS_TITLE ?? meta.title ?? 'WPS Scheduler',
      abstract:
        env.WPS_ABSTRACT ??
        meta.abstract ??
        'OGC WPS 1.0.0 server that runs short processes inline and hands long jobs to a batch scheduler.',
      keywords: meta.keywords ?? ['WPS', 'processing', 'HPC'],
      fees: meta.fees ?? 'NONE',
      accessConstraints: meta.accessConstraints ?? ['NONE'],
      provider: { name: meta.provider?.name ?? 'WPS Scheduler', site: meta.provider?.site ?? baseUrl },
      contact: meta.contact ?? {},
    },
  };
  if (config.auth?.protectOutputs && outputUrl !== `${baseUrl}/outputs`) {
    throw new ConfigError('auth.protectOutputs needs the outputs served by this server: leave storage.url (WPS_OUTPUT_URL) unset');
  }
  const l = config.limits;
  if (l.requestMemory < l.maxRequestSize) {
    throw new ConfigError(`requestMemory (${l.requestMemory} bytes) must be at least maxRequestSize (${l.maxRequestSize} bytes)`);
  }
  if (l.headersTimeoutMs > l.requestTimeoutMs) throw new ConfigError('headersTimeout must not be longer than requestTimeout');
  return Object.freeze(config);
}
