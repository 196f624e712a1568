import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import Koa from 'koa';
import { AuthRefusal } from './auth/caller.js';
import { OwsException } from './exceptions.js';
import { outputOwnersGate } from './http/output-owners.js';
import { jobReportsEndpoint, REPORT_PATH } from './http/job-reports.js';
import { healthEndpoints } from './http/health.js';
import { jobsApi, JOBS_PATH, statusInfoOf } from './http/jobs-api.js';
import { JobStreams } from './http/job-stream.js';
import { launcherApi } from './http/launcher-api.js';
import { ASSETS_PATH, pages, wantsPage } from './http/pages.js';
import { PROCESSES_PATH, processesApi } from './http/processes-api.js';
import { outputsEndpoint, OUTPUTS_PATH } from './http/outputs.js';
import { callerOf, identifyCaller } from './http/problem.js';
import { usersApi, USERS_ME_PATH } from './http/users-api.js';
import { clientGone, SECURITY_HEADERS, send } from './http/send.js';
import { SESSION_PATH, SessionProxy } from './http/session-proxy.js';
import type { Duplex } from 'node:stream';
import { overflowedInRequestLine } from './http/oversized-head.js';
import { queryTooLong, wpsEndpoint } from './http/wps-endpoint.js';
import { exceptionReportXml } from './ows/exception-report.js';
import type { Services } from './services.js';

/**
 * Every request's first stop. The two paths WPS clients hit all the time, /wps and the
 * status documents and outputs under /outputs/, are answered here on node:http; the
 * rest goes to the Koa app. Koa's own work per request (its context objects, the
 * finished-response listeners, the promise chain around the middleware) took 30-40 % of
 * a GetCapabilities answer's time on this machine kind, measured against this same
 * listener (see docs/architecture.md).
 */
function requestListener(services: Services, proxy: SessionProxy, streams: JobStreams): RequestListener {
  const koa = createApp(services, streams).callback();
  const wps = wpsEndpoint(services, services.auth, services.metrics, (err) => logError(services, err));
  const owners = outputOwnersGate(services);
  const outputs = outputsEndpoint(services.outputs, { private: owners !== undefined });
  const NOT_FOUND = { status: 404, contentType: 'text/plain; charset=utf-8', body: 'Not found\n' };
  const serveOutput = async (req: IncomingMessage, path: string) => {
    try {
      if (owners && !(await owners(req, path))) return NOT_FOUND;
    } catch (err) {
      if (!(err instanceof AuthRefusal)) throw err;
      return { status: err.status, contentType: 'text/plain; charset=utf-8', body: `${err.message}\n`, headers: err.challenge ? { 'www-authenticate': err.challenge } : {} };
    }
    return outputs(path, req.headers);
  };
  return (req: IncomingMessage, res: ServerResponse) => {
    try {
      let url = req.url ?? '/';
      // An absolute-form request line (sent to proxies) names the server too.
      if (url[0] !== '/') url = originForm(url);
      // A fragment is never the server's business (clients should not send one at all).
      const hash = url.indexOf('#');
      if (hash >= 0) url = url.slice(0, hash);
      const q = url.indexOf('?');
      const path = q < 0 ? url : url.slice(0, q);
      if (path === '/wps' || path === '/wps/') {
        const pending = wps(req, res, q < 0 ? '' : url.slice(q + 1));
        if (pending) pending.catch((err: unknown) => lastResort(err, res));
        return;
      }
      const session = path.startsWith('/sessions/') ? SESSION_PATH.exec(path) : null;
      if (session) {
        proxy.handle(req, res, session[1]!, session[2], q < 0 ? '' : url.slice(q + 1)).catch((err: unknown) => {
          logError(services, err);
          if (res.headersSent) res.destroy();
          else send(req, res, { status: 500, contentType: 'text/plain; charset=utf-8', body: 'Internal Server Error\n' });
        });
        return;
      }
      if (path.startsWith(OUTPUTS_PATH) && (req.method === 'GET' || req.method === 'HEAD')) {
        serveOutput(req, path)
          .then((answer) => send(req, res, answer, (err) => logError(services, err)))
          .catch((err: unknown) => {
            logError(services, err);
            if (res.headersSent) res.destroy();
            else send(req, res, { status: 500, contentType: 'text/plain; charset=utf-8', body: 'Internal Server Error\n' });
          })
          .catch((err: unknown) => lastResort(err, res));
        return;
      }
      koa(req, res);
    } catch (err) {
      lastResort(err, res);
    }
  };

  /** What Koa's catch-all did: whatever escaped an endpoint is logged and the response ended, never the process. */
  function lastResort(err: unknown, res: ServerResponse): void {
    logError(services, err);
    res.destroy();
  }
}

/** Upgrade requests (websockets): only sessions take them. */
function upgradeListener(services: Services, proxy: SessionProxy) {
  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    let url = req.url ?? '/';
    if (url[0] !== '/') url = originForm(url);
    const q = url.indexOf('?');
    const session = SESSION_PATH.exec(q < 0 ? url : url.slice(0, q));
    if (!session) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    proxy.upgrade(req, socket, head, session[1]!, session[2], q < 0 ? '' : url.slice(q + 1)).catch((err: unknown) => {
      logError(services, err);
      socket.destroy();
    });
  };
}

function originForm(url: string): string {
  try {
    const u = new URL(url);
    return u.pathname + u.search;
  } catch {
    return '/';
  }
}

function logError(services: Services, err: unknown): void {
  if (clientGone(err)) return;
  const e = err instanceof Error ? err : new Error(String(err));
  services.log({ level: 'error', msg: e.message, stack: e.stack });
}

/** The Koa application for everything but /wps and /outputs/: one route per concern. */
function createApp(services: Services, streams: JobStreams): Koa {
  const app = new Koa();
  const reports = jobReportsEndpoint(services.store, services.lifecycle);
  const html = pages(services);
  const jobs = jobsApi(services, streams, html);
  const health = healthEndpoints(services);
  const identified = identifyCaller(services.auth);
  const users = usersApi(services.auth, services.config.quotas, services.store);
  const launcher = launcherApi(services);
  const ogc = processesApi(services, html);
  const launcherPath = services.config.sessions.endpoint;
  app.use((ctx) => {
    ctx.set(SECURITY_HEADERS);
    const path = ctx.path;
    const report = REPORT_PATH.exec(path);
    if (report) return reports(ctx, report[1]!);
    const job = JOBS_PATH.exec(path);
    if (job) return identified(ctx, () => jobs(ctx, callerOf(ctx), job[1], job[2]));
    if (path === USERS_ME_PATH) return identified(ctx, () => users(ctx, callerOf(ctx)));
    if (path === launcherPath || path === `${launcherPath}/`) return launcher(ctx, undefined);
    if (path.startsWith(`${launcherPath}/`)) return launcher(ctx, path.slice(launcherPath.length + 1).replace(/\/$/, ''));
    if (path === '/health') return health.health(ctx);
    if (path === '/ready') return health.ready(ctx);
    if (path === '/metrics') {
      return identified(ctx, () =>
        services.metrics.render(callerOf(ctx).admin).then((text) => {
          ctx.type = 'text/plain; version=0.0.4; charset=utf-8';
          ctx.body = text;
        }),
      );
    }
    // Koa answers HEAD like GET, without the body.
    const reading = ctx.method === 'GET' || ctx.method === 'HEAD';
    const asset = ASSETS_PATH.exec(path);
    if (asset && reading) return html.assets(ctx, asset[1]!);
    const processes = PROCESSES_PATH.exec(path);
    if (processes) return identified(ctx, () => ogc.processes(ctx, callerOf(ctx), processes[1], processes[2] !== undefined));
    if (path === '/conformance' && reading) return wantsPage(ctx) ? html.conformance(ctx) : ogc.conformance(ctx);
    if (path === '/api' && reading) return ogc.api(ctx);
    // OGC API's landing page: a page for a browser, JSON for the rest.
    if (path === '/' && reading) return wantsPage(ctx) ? html.landing(ctx) : ogc.landing(ctx);
    ctx.status = 404;
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = 'Not found\n';
  });
  app.on('error', (err: NodeJS.ErrnoException) => {
    // A client that hangs up mid-response is not a server error (logError knows them).
    if ((err as { expose?: boolean }).expose) return;
    logError(services, err);
  });
  return app;
}

const KEEP_ALIVE_MS = 65_000;

/**
 * Starts listening. Requests whose head outgrows Node's parser still get an
 * ExceptionReport: 414 for a long query, 431 for long headers.
 */
export function startServer(services: Services, port = services.config.port, host = services.config.host): Promise<Server> {
  const ops = services;
  const limits = ops.config.limits;
  const streams = new JobStreams(services.store, services.events, statusInfoOf(services));
  const proxy = new SessionProxy({
    store: services.store,
    auth: services.auth,
    appOf: (processId) => services.registry.get(processId)?.session,
    pools: services.config.sessions.resources,
    sessionsUrl: services.config.sessions.url,
    log: services.log,
  });
  const server = createServer(
    {
      maxHeaderSize: limits.maxQueryLength + 16 * 1024,
      // A request must arrive whole within these; the check runs this often.
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      connectionsCheckingInterval: Math.min(5000, limits.headersTimeoutMs),
      // Longer than clients' and proxies' own idle timeouts (undici takes the server's
      // hint less a second; load balancers 60 s): the server is never the one to close a
      // connection a client is about to reuse. With Node's 5 s, a client whose timer ran
      // late (a busy event loop) sent on a closed connection and read ECONNRESET.
      keepAliveTimeout: KEEP_ALIVE_MS,
    },
    requestListener(services, proxy, streams),
  );
  server.on('upgrade', upgradeListener(services, proxy));
  const unsubscribe = services.events.onFinished((id) => proxy.ended(id));
  server.once('close', () => {
    unsubscribe();
    void proxy.close();
    streams.close();
  });
  server.maxConnections = limits.maxConnections;
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const [ex, reason] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? overflowedInRequestLine(err)
          ? [queryTooLong(limits.maxQueryLength), 'URI Too Long']
          : [new OwsException('FileSizeExceeded', 'The request headers are too large', undefined, 431), 'Request Header Fields Too Large']
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [new OwsException('NoApplicableCode', `The request did not arrive whole within ${limits.requestTimeoutMs / 1000} s`, undefined, 408), 'Request Timeout']
          : [new OwsException('NoApplicableCode', 'Malformed HTTP request', undefined, 400), 'Bad Request'];
    const body = exceptionReportXml(ex, ops.config.languages[0]!);
    socket.end(
      `HTTP/1.1 ${ex.httpStatus} ${reason}\r\n` +
        `Content-Type: text/xml; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Content-Type-Options: ${SECURITY_HEADERS['x-content-type-options']}\r\n` +
        `Content-Security-Policy: ${SECURITY_HEADERS['content-security-policy']}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
