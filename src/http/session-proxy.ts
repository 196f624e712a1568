import { Agent, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Authenticator } from '../auth/authenticate.js';
import { AuthRefusal, mayManage } from '../auth/caller.js';
import { JOB_ID_PATTERN } from '../job-id.js';
import type { JobStore } from '../jobs/store.js';
import type { Log } from '../log.js';
import { hashSecret, sameHash } from '../secrets.js';
import { inPools, SECRET_PARAMETER, type PortPool, type SessionApp } from '../sessions/app.js';
import { SECURITY_HEADERS } from './send.js';

/** `/sessions/{id}` and what follows it. */
export const SESSION_PATH = new RegExp(`^/sessions/(${JOB_ID_PATTERN})(/.*)?$`);

/** The cookie that carries a session's secret after its URL did once; scoped to the session's path. */
const COOKIE = 'wps-session-secret';

/** A route is read from the store again after this long (an ended session's is dropped at once where the end is heard). */
const ROUTE_TTL_MS = 2000;
/** How often traffic through the proxy is written to the store (for idle timeouts). */
const ACTIVITY_FLUSH_MS = 1000;

/** Headers that belong to one connection, never forwarded (RFC 9110, 7.6.1), except Upgrade's on a websocket's way. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

interface Route {
  id: string;
  host: string;
  port: number;
  owner: string | null;
  secretHash: string | null;
  keepPrefix: boolean;
  at: number;
}

export interface SessionProxyDeps {
  store: JobStore;
  auth: Authenticator;
  appOf(processId: string): SessionApp | undefined;
  pools: readonly PortPool[];
  /** Sessions' public base URL: https there makes the cookie Secure. */
  sessionsUrl: string;
  log: Log;
}

type Admission =
  | { ok: true; route: Route; path: string; dropAuthorization: boolean; cookie?: string; redirect?: string }
  | { ok: false; status: number; message: string; headers?: Record<string, string> };

/**
 * The server's reverse proxy to sessions: `/sessions/{id}/…`, HTTP and WebSocket,
 * streamed both ways. The target is only ever the host and port the session's runner
 * reported, read from the store (so any server proxies any session) and checked against
 * the configured pools again; nothing in the request (its path, its Host, an absolute
 * URL) can change it. Only the session's secret (once in the URL, then a cookie scoped to
 * the session's path), or its owner or an admin by their credentials, get through.
 */
export class SessionProxy {
  private readonly routes = new Map<string, Route>();
  /** Open websocket connections and HTTP exchanges in progress by session, with the bytes they had moved at the last look. */
  private readonly tunnels = new Map<string, Map<Socket, number>>();
  private readonly seen = new Map<string, Date>();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256, scheduling: 'lifo' });
  private readonly flusher: NodeJS.Timeout;

  constructor(private readonly d: SessionProxyDeps) {
    this.flusher = setInterval(() => void this.flush(), ACTIVITY_FLUSH_MS);
    this.flusher.unref();
  }

  /** The session ended: its route goes, and so do its open connections. */
  ended(id: string): void {
    this.routes.delete(id);
    const open = this.tunnels.get(id);
    if (!open) return;
    this.tunnels.delete(id);
    for (const socket of open.keys()) socket.destroy();
  }

  async close(): Promise<void> {
    clearInterval(this.flusher);
    for (const id of [...this.tunnels.keys()]) this.ended(id);
    this.agent.destroy();
    await this.flush();
  }

  /** An HTTP request under /sessions/. */
  async handle(req: IncomingMessage, res: ServerResponse, id: string, rest: string | undefined, query: string): Promise<void> {
    const admitted = await this.admit(req, id, rest, query, false);
    if (!admitted.ok) return answer(res, admitted.status, admitted.message, admitted.headers);
    if (admitted.redirect) {
      const headers: Record<string, string> = { location: admitted.redirect };
      if (admitted.cookie) headers['set-cookie'] = admitted.cookie;
      return answer(res, 303, 'Opening the session\n', headers);
    }
    // A client gone while it was being checked: nothing to forward.
    if (req.destroyed || res.destroyed) return;
    const { route } = admitted;
    this.seen.set(route.id, new Date());
    // A long exchange (a download) counts as traffic while it lasts, by its socket's bytes.
    const open = this.tunnelsOf(route.id);
    open.set(req.socket, req.socket.bytesRead + req.socket.bytesWritten);
    res.once('close', () => {
      open.delete(req.socket);
      this.seen.set(route.id, new Date());
    });
    const upstream = request({
      host: route.host,
      port: route.port,
      method: req.method,
      path: admitted.path,
      headers: forwardedHeaders(req, route, admitted, false),
      agent: this.agent,
      setHost: false,
    });
    upstream.on('response', (answerIn) => {
      const headers: string[] = [];
      const raw = answerIn.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) if (!HOP_BY_HOP.has(raw[i]!.toLowerCase())) headers.push(raw[i]!, raw[i + 1]!);
      if (admitted.cookie) headers.push('Set-Cookie', admitted.cookie);
      res.writeHead(answerIn.statusCode ?? 502, answerIn.statusMessage, headers);
      answerIn.pipe(res);
      answerIn.on('error', () => res.destroy());
    });
    upstream.on('error', () => {
      if (!res.headersSent) answer(res, 502, 'The session does not answer\n');
      else res.destroy();
    });
    // A client that goes away takes its request to the application with it.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }

  /** An Upgrade request (a websocket) under /sessions/: after the checks, bytes flow both ways untouched. */
  async upgrade(req: IncomingMessage, client: Duplex, head: Buffer, id: string, rest: string | undefined, query: string): Promise<void> {
    client.on('error', () => client.destroy());
    const admitted = await this.admit(req, id, rest, query, true);
    if (!admitted.ok || admitted.redirect) {
      const status = admitted.ok ? 400 : admitted.status;
      client.end(`HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : status === 503 ? 'Service Unavailable' : 'Refused'}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      return;
    }
    if (client.destroyed) return;
    const { route } = admitted;
    const upstream = connect({ host: route.host, port: route.port });
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.tunnels.get(route.id)?.delete(upstream);
    };
    upstream.on('error', () => {
      if (!upstream.bytesRead && (client as Socket).writable) client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      close();
    });
    client.on('close', close);
    upstream.on('close', close);
    upstream.on('connect', () => {
      upstream.setNoDelay(true);
      (client as Socket).setNoDelay?.(true);
      const lines = [`${req.method} ${admitted.path} HTTP/1.1`];
      const headers = forwardedHeaders(req, route, admitted, true);
      for (let i = 0; i < headers.length; i += 2) lines.push(`${headers[i]}: ${headers[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    this.tunnelsOf(route.id).set(upstream, 0);
    this.seen.set(route.id, new Date());
  }

  private tunnelsOf(id: string): Map<Socket, number> {
    let open = this.tunnels.get(id);
    if (!open) this.tunnels.set(id, (open = new Map()));
    return open;
  }

  /** Who may pass, and where the request goes in the application. */
  private async admit(req: IncomingMessage, id: string, rest: string | undefined, query: string, upgrade: boolean): Promise<Admission> {
    const route = await this.route(id);
    const missing: Admission = { ok: false, status: 404, message: 'No session here, or not yours: open the session URL with its secret\n' };
    if (route === 'not-ready') return { ok: false, status: 503, message: 'The session is not ready yet\n', headers: { 'retry-after': '2' } };
    if (!route) return missing;
    const { given, others } = splitQuery(query);
    const offered = given ?? cookieOf(req.headers.cookie);
    let dropAuthorization = false;
    if (!(offered !== undefined && route.secretHash !== null && sameHash(hashSecret(offered), route.secretHash))) {
      // Without the secret: the owner or an admin, by the server's own credentials (none when authentication is off).
      if (!this.d.auth.on) return missing;
      let caller;
      try {
        caller = await this.d.auth.identify(req);
      } catch (err) {
        if (err instanceof AuthRefusal) return missing;
        throw err;
      }
      if (caller.user === undefined && !caller.admin) return missing;
      if (!mayManage(route.owner, caller)) return missing;
      // The user's token is for this server, not for the application.
      dropAuthorization = req.headers.authorization !== undefined;
    }
    const base = `/sessions/${id}`;
    if (rest === undefined) return { ok: true, route, path: '', dropAuthorization, redirect: `${base}/${query ? `?${query}` : ''}` };
    const path = (route.keepPrefix ? base + rest : rest) + (others ? `?${others}` : '');
    const secure = this.d.sessionsUrl.startsWith('https:') ? '; Secure' : '';
    const cookie = given !== undefined ? `${COOKIE}=${encodeURIComponent(given)}; Path=${base}/; HttpOnly; SameSite=Lax${secure}` : undefined;
    // A page opened with the secret in its URL is opened again without it: the cookie carries it from now on.
    const redirect = given !== undefined && !upgrade && (req.method === 'GET' || req.method === 'HEAD') ? `${base}${rest}${others ? `?${others}` : ''}` : undefined;
    return { ok: true, route, path, dropAuthorization, ...(cookie ? { cookie } : {}), ...(redirect ? { redirect } : {}) };
  }

  /** A session's route: from the cache while fresh, else from the store; 'not-ready' while its application starts. */
  private async route(id: string): Promise<Route | 'not-ready' | undefined> {
    const cached = this.routes.get(id);
    if (cached && Date.now() - cached.at < ROUTE_TTL_MS) return cached;
    const job = await this.d.store.get(id);
    const app = job ? this.d.appOf(job.processId) : undefined;
    if (!job || !app || (job.state !== 'running' && job.state !== 'accepted')) {
      this.routes.delete(id);
      return undefined;
    }
    if (job.sessionHost === null || job.sessionPort === null) return 'not-ready';
    // The store's word is the runner's: forwarded only inside the pools the config allows.
    if (!inPools(this.d.pools, job.sessionHost, job.sessionPort)) {
      this.d.log({ level: 'warn', msg: 'session address outside the configured pools; not proxied', jobId: id, host: job.sessionHost, port: job.sessionPort });
      return undefined;
    }
    const route: Route = { id, host: job.sessionHost, port: job.sessionPort, owner: job.owner, secretHash: job.sessionSecretHash, keepPrefix: app.keepPrefix, at: Date.now() };
    this.routes.set(id, route);
    return route;
  }

  /** Writes which sessions saw traffic since the last time (websockets: by the bytes they moved). */
  private async flush(): Promise<void> {
    const now = new Date();
    for (const [id, open] of this.tunnels) {
      for (const [socket, before] of open) {
        const moved = socket.bytesRead + socket.bytesWritten;
        if (moved !== before) {
          open.set(socket, moved);
          this.seen.set(id, now);
        }
      }
    }
    if (this.seen.size === 0) return;
    const seen = new Map(this.seen);
    this.seen.clear();
    await this.d.store.touchSessions(seen).catch((err: Error) => this.d.log({ level: 'warn', msg: 'session activity not recorded', error: err.message }));
  }
}

/** The request's headers for the application: hop-by-hop ones dropped (but a websocket's Upgrade), the proxy's cookie and the user's token taken out, X-Forwarded-* added. */
function forwardedHeaders(req: IncomingMessage, route: Route, admitted: Extract<Admission, { ok: true }>, upgrade: boolean): string[] {
  const out: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (upgrade && (lower === 'upgrade' || lower === 'connection')) {
      out.push(name, raw[i + 1]!);
      continue;
    }
    // A body's framing is kept (Node frames what it forwards as chunked): dropped, a body
    // on a GET would reach the application as a request of its own.
    if (lower === 'transfer-encoding' && !upgrade) {
      out.push('Transfer-Encoding', 'chunked');
      continue;
    }
    if (HOP_BY_HOP.has(lower) || lower.startsWith('x-forwarded-')) continue;
    // Bearer credentials are this server's (a front end may add them to every request): never the application's.
    if (lower === 'authorization' && (admitted.dropAuthorization || /^bearer\s/i.test(raw[i + 1]!))) continue;
    if (lower === 'cookie') {
      const kept = raw[i + 1]!.split(/;\s*/).filter((c) => c !== '' && !c.startsWith(`${COOKIE}=`)).join('; ');
      if (kept) out.push(name, kept);
      continue;
    }
    out.push(name, raw[i + 1]!);
  }
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted;
  out.push('X-Forwarded-For', req.socket.remoteAddress ?? '', 'X-Forwarded-Proto', encrypted ? 'https' : 'http');
  if (req.headers.host) out.push('X-Forwarded-Host', req.headers.host);
  if (!route.keepPrefix) out.push('X-Forwarded-Prefix', `/sessions/${route.id}`);
  return out;
}

/** The secret, if the query gives it, and the query without it (the application never sees it). */
function splitQuery(query: string): { given: string | undefined; others: string } {
  if (!query.includes(SECRET_PARAMETER)) return { given: undefined, others: query };
  let given: string | undefined;
  const others = query.split('&').filter((part) => {
    const eq = part.indexOf('=');
    if ((eq < 0 ? part : part.slice(0, eq)) !== SECRET_PARAMETER) return true;
    try {
      given = decodeURIComponent(part.slice(eq + 1).replace(/\+/g, ' '));
    } catch {
      given = '';
    }
    return false;
  });
  return { given, others: others.join('&') };
}

function cookieOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/;\s*/)) {
    if (part.startsWith(`${COOKIE}=`)) {
      try {
        return decodeURIComponent(part.slice(COOKIE.length + 1));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}


function answer(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
