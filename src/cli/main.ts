#!/usr/bin/env node
import { ConfigError, loadConfig } from '../config.js';
import { jsonLog, silentLog } from '../log.js';
import { loadProcesses, processFinder } from '../packages/load-processes.js';

// Each command loads only what it uses: a runner on a compute node starts without the
// database drivers, the queue client or the HTTP server (half a second of Node's time).

const USAGE = `usage: wps-server <command> [--config FILE]

commands:
  serve            start the WPS server (and a dispatcher, unless WPS_DISPATCH=false)
  dispatch         run a dispatcher only (needs REDIS_URL and DATABASE_URL)
  migrate          bring the job store's schema up to date
  job run DIR      run the job whose directory is DIR (what schedulers call)
  runner           a warm runner for the local scheduler (started by the server)
  token new --user NAME [--groups A,B] [--admin]
                   print a new API token, and the auth.tokens entry (its hash) to add
  embedded-db DIR SOCKET
                   serve the embedded database (started by the server)

Configuration comes from the environment and an optional JSON file; see README.
`;

async function main(argv: string[]): Promise<number> {
  const configAt = argv.indexOf('--config');
  const file = configAt >= 0 ? argv[configAt + 1] : undefined;
  const args = configAt >= 0 ? argv.filter((_, i) => i !== configAt && i !== configAt + 1) : argv;
  const [command, ...rest] = args;
  const config = () => loadConfig(file ? { file } : {});
  // `migrate --help` must not migrate: asking is never doing.
  if (args.includes('-h') || args.includes('--help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const takesArguments = command === 'job' || command === 'embedded-db' || command === 'token';
  if (!takesArguments && rest.length > 0) {
    process.stderr.write(`unexpected argument: ${rest[0]}\n${USAGE}`);
    return 2;
  }
  switch (command) {
    case 'serve': {
      const c = config();
      if (c.unprotected) throw new ConfigError(c.unprotected);
      const { openServices } = await import('../services.js');
      const { startServer } = await import('../server.js');
      const services = await openServices(c, await loadProcesses(c.processes, c.cwl));
      const server = await startServer(services);
      jsonLog({ level: 'info', msg: 'listening', url: `${c.baseUrl}/wps`, host: c.host, port: c.port, queue: services.queue.name, dispatch: Boolean(services.dispatcher) });
      onSignal(async () => {
        server.close();
        server.closeAllConnections();
        await services.close();
      });
      return -1;
    }
    case 'dispatch': {
      const c = config();
      if (!c.redisUrl || !c.databaseUrl) throw new ConfigError('dispatch needs REDIS_URL and DATABASE_URL (a shared queue and job store)');
      const { openServices } = await import('../services.js');
      const services = await openServices(c, await loadProcesses(c.processes, c.cwl), { dispatch: true });
      jsonLog({ level: 'info', msg: 'dispatching', queue: c.queueName });
      onSignal(() => services.close());
      return -1;
    }
    case 'migrate': {
      const { databaseOptions, openMigratedDatabase } = await import('../jobs/db.js');
      // Its output is the answer: which migrations ran.
      const { db, applied } = await openMigratedDatabase(databaseOptions(config()), silentLog);
      await db.destroy();
      process.stdout.write(applied.length > 0 ? `applied: ${applied.join(', ')}\n` : 'up to date\n');
      return 0;
    }
    case 'job': {
      if (rest[0] !== 'run' || !rest[1]) break;
      // The process's own failure is in the result it leaves; the exit code speaks of the runner.
      const { runJobDirectory } = await import('../runner/run-job.js');
      await runJobDirectory(rest[1], processFinder(() => config().processes));
      return 0;
    }
    case 'runner': {
      const { startWarmRunner } = await import('../runner/warm-runner.js');
      startWarmRunner(processFinder(() => config().processes));
      return -1;
    }
    case 'token': {
      if (rest[0] !== 'new') break;
      const opts = new Map<string, string | true>();
      for (let i = 1; i < rest.length; i++) {
        const name = rest[i]!;
        if (name === '--admin') opts.set(name, true);
        else if (name === '--user' || name === '--groups') opts.set(name, rest[++i] ?? '');
        else break;
      }
      const user = opts.get('--user');
      if (typeof user !== 'string' || user === '') break;
      const { hashSecret, newSecret } = await import('../secrets.js');
      const token = newSecret('wps_');
      const groups = typeof opts.get('--groups') === 'string' ? String(opts.get('--groups')).split(',').map((g) => g.trim()).filter(Boolean) : [];
      const entry = { user, sha256: hashSecret(token), groups, admin: opts.has('--admin') };
      // The token once, for its holder; the entry (no token in it) for the config file.
      process.stdout.write(`token: ${token}\nentry for auth.tokens: ${JSON.stringify(entry)}\n`);
      return 0;
    }
    case 'embedded-db': {
      if (!rest[0] || !rest[1]) break;
      const { serveEmbeddedDatabase } = await import('../jobs/embedded-host.js');
      await serveEmbeddedDatabase(rest[0], rest[1]);
      return -1;
    }
    case undefined:
      process.stdout.write(USAGE);
      return 0;
  }
  process.stderr.write(USAGE);
  return 2;
}

function onSignal(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = () => {
    if (stopping) return;
    stopping = true;
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    if (err instanceof ConfigError) process.stderr.write(`configuration error: ${err.message}\n`);
    else process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
