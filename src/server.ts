import { createServer, type Server } from 'node:http';
import Koa from 'koa';
import { OwsException } from './exceptions.js';
import { jobReportsEndpoint, REPORT_PATH } from './http/job-reports.js';
import { healthEndpoints } from './http/health.js';
import { jobsApi, JOBS_PATH } from './http/jobs-api.js';
import { outputsEndpoint, OUTPUTS_PATH } from './http/outputs.js';
import { wpsEndpoint } from './http/wps-endpoint.js';
import { exceptionReportXml } from './ows/exception-report.js';
import type { Services } from './services.js';

/** The Koa application: one route per concern, nothing else. */
export function createApp(services: Services): Koa {
  const app = new Koa();
  const wps = wpsEndpoint(services, services.metrics);
  const outputs = outputsEndpoint(services.outputs);
  const reports = jobReportsEndpoint(services.store, services.lifecycle);
  const jobs = jobsApi(services);
  const health = healthEndpoints(services);
  // Not an async function: the /wps answers that are ready at once go out without a promise.
  app.use((ctx) => {
    const path = ctx.path;
    if (path === '/wps' || path === '/wps/') return wps(ctx);
    if (path.startsWith(OUTPUTS_PATH) && (ctx.method === 'GET' || ctx.method === 'HEAD')) return outputs(ctx);
    const report = REPORT_PATH.exec(path);
    if (report) return reports(ctx, report[1]!);
    const job = JOBS_PATH.exec(path);
    if (job) return jobs(ctx, job[1], job[2]);
    if (path === '/health') return health.health(ctx);
    if (path === '/ready') return health.ready(ctx);
    if (path === '/metrics') {
      return services.metrics.render().then((text) => {
        ctx.type = 'text/plain; version=0.0.4; charset=utf-8';
        ctx.body = text;
      });
    }
    if (path === '/' && ctx.method === 'GET') {
      ctx.redirect(`/wps?service=WPS&request=GetCapabilities`);
      return;
    }
    ctx.status = 404;
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = 'Not found\n';
  });
  app.on('error', (err: NodeJS.ErrnoException) => {
    // A client that hangs up mid-response is not a server error.
    if ((err as { expose?: boolean }).expose || err.code === 'ERR_STREAM_PREMATURE_CLOSE' || err.code === 'ECONNRESET') return;
    services.log({ level: 'error', msg: err.message, stack: err.stack });
  });
  return app;
}

/**
 * Starts listening. Requests whose head (the KVP query string) outgrows Node's parser
 * still get an ExceptionReport instead of a bare 431.
 */
export function startServer(services: Services, port = services.config.port, host = services.config.host): Promise<Server> {
  const ops = services;
  const app = createApp(services);
  const server = createServer({ maxHeaderSize: ops.config.limits.maxQueryLength + 16 * 1024 }, app.callback());
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const ex = tooLarge
      ? new OwsException('FileSizeExceeded', 'The request line and headers are too large', undefined, 431)
      : new OwsException('NoApplicableCode', 'Malformed HTTP request', undefined, 400);
    const body = exceptionReportXml(ex, ops.config.languages[0]!);
    socket.end(
      `HTTP/1.1 ${ex.httpStatus} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
        `Content-Type: text/xml; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
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
