import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { serialize, startDocument, type ElementWriter } from '../ows/document.js';
import { NS } from '../ows/namespaces.js';
import {
  exceptionOf,
  NotAWpsDocument,
  parseCapabilities,
  parseDescriptions,
  parseExecuteResponse,
  type Capabilities,
  type ExecuteStatus,
  type ProcessInfo,
  type ServerException,
} from './documents.js';

/** Reads of a status document before an unreadable one is believed (about 1.5 s in all). */
const STATUS_READ_ATTEMPTS = 6;

/** A value to send for one input, already typed by the caller. */
export type InputValue =
  | { kind: 'literal'; value: string; uom?: string }
  | { kind: 'complex'; value: string; mimeType?: string; encoding?: string; schema?: string }
  | { kind: 'reference'; href: string; mimeType?: string }
  | { kind: 'bbox'; lowerCorner: number[]; upperCorner: number[]; crs?: string };

/** The server answered with an ows:ExceptionReport. */
export class ServerError extends Error {
  constructor(
    readonly exception: ServerException,
    readonly httpStatus: number,
  ) {
    super(`${exception.code}${exception.locator ? ` (${exception.locator})` : ''}: ${exception.text}`);
  }
}

export interface ClientOptions {
  /** How long capabilities and descriptions are reused, in ms (0: never). */
  cacheTtlMs?: number;
  cacheDir?: string;
  language?: string;
  /** Sent as `Authorization: Bearer` to this server (its origin) only, never to other hosts. */
  token?: string;
}

/**
 * A WPS 1.0.0 client for any server: GetCapabilities and DescribeProcess over KVP
 * (cached briefly, so that `-h` is fast), Execute as XML POST, status documents by URL,
 * and Dismiss where the server offers it.
 */
export class WpsClient {
  private readonly cacheTtlMs: number;
  private readonly cacheDir: string;
  private readonly origin: string;

  constructor(
    readonly url: string,
    private readonly options: ClientOptions = {},
  ) {
    this.cacheTtlMs = options.cacheTtlMs ?? 60_000;
    this.cacheDir = options.cacheDir ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'wps-cli');
    this.origin = new URL(url).origin;
  }

  /** fetch, with the token when the URL is on this server (status documents, outputs, /jobs). */
  fetch(url: string, init: RequestInit = {}): Promise<Response> {
    if (!this.options.token || new URL(url).origin !== this.origin) return fetch(url, init);
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${this.options.token}`);
    return fetch(url, { ...init, headers });
  }

  async capabilities(): Promise<Capabilities> {
    return parseCapabilities(await this.cachedGet({ service: 'WPS', request: 'GetCapabilities' }));
  }

  async describe(identifier: string): Promise<ProcessInfo> {
    const [info] = parseDescriptions(
      await this.cachedGet({ service: 'WPS', request: 'DescribeProcess', version: '1.0.0', identifier }),
    );
    if (!info) throw new Error(`the server describes no process ${identifier}`);
    return info;
  }

  async execute(
    identifier: string,
    inputs: readonly { identifier: string; value: InputValue }[],
    opts: { async: boolean; outputs: readonly string[] },
  ): Promise<ExecuteStatus> {
    const body = executeRequest(identifier, inputs, opts, this.options.language);
    const res = await this.fetch(this.url, { method: 'POST', body, headers: { 'content-type': 'text/xml' } });
    return this.statusFrom(res);
  }

  /**
   * Reads a status document. Servers that rewrite it in place (PyWPS opens the file for
   * writing and then writes) are now and then read empty or cut short, and a connection
   * may drop: such a read is tried again, a few times, before it counts.
   */
  async status(location: string): Promise<ExecuteStatus> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.statusFrom(await this.fetch(location));
      } catch (err) {
        const transient = err instanceof NotAWpsDocument || err instanceof TypeError;
        if (!transient || attempt >= STATUS_READ_ATTEMPTS) throw err;
        await wait(100 * attempt);
      }
    }
  }

  /** Dismisses a job (WPS 2.0's operation; this server offers it on 1.0.0). */
  async dismiss(jobId: string): Promise<ExecuteStatus> {
    const q = new URLSearchParams({ service: 'WPS', request: 'Dismiss', version: '1.0.0', jobId });
    return this.statusFrom(await this.fetch(`${this.url}?${q}`));
  }

  private async statusFrom(res: Response): Promise<ExecuteStatus> {
    const text = await res.text();
    const ex = exceptionOf(text);
    if (ex) throw new ServerError(ex, res.status);
    if (!res.ok) throw new Error(`HTTP ${res.status} from ${res.url}`);
    return parseExecuteResponse(text);
  }

  private async cachedGet(params: Record<string, string>): Promise<string> {
    if (this.options.language) params.language = this.options.language;
    const url = `${this.url}?${new URLSearchParams(params)}`;
    // What a server offers depends on who asks: one cache entry per URL and token.
    const key = createHash('sha256').update(url).update('\0').update(this.options.token ?? '').digest('hex');
    const file = join(this.cacheDir, `${key.slice(0, 32)}.xml`);
    if (this.cacheTtlMs > 0) {
      try {
        const cached = JSON.parse(await readFile(file, 'utf8')) as { at: number; body: string };
        if (Date.now() - cached.at < this.cacheTtlMs) return cached.body;
      } catch {
        // no cache yet
      }
    }
    const res = await this.fetch(url);
    const body = await res.text();
    const ex = exceptionOf(body);
    if (ex) throw new ServerError(ex, res.status);
    if (!res.ok) throw new Error(`HTTP ${res.status} from ${url}`);
    if (this.cacheTtlMs > 0) {
      await mkdir(this.cacheDir, { recursive: true });
      await writeFile(file, JSON.stringify({ at: Date.now(), body }));
    }
    return body;
  }
}

export function executeRequest(
  identifier: string,
  inputs: readonly { identifier: string; value: InputValue }[],
  opts: { async: boolean; outputs: readonly string[] },
  language?: string,
): string {
  const root = startDocument(NS.wps, 'wps:Execute', ['wps', 'ows', 'xlink']).att('service', 'WPS').att('version', '1.0.0');
  if (language) root.att('language', language);
  root.ele(NS.ows, 'ows:Identifier').txt(identifier);
  if (inputs.length > 0) {
    const di = root.ele(NS.wps, 'wps:DataInputs');
    for (const i of inputs) input(di, i.identifier, i.value);
  }
  const doc = root.ele(NS.wps, 'wps:ResponseForm').ele(NS.wps, 'wps:ResponseDocument');
  doc.att('storeExecuteResponse', String(opts.async)).att('status', String(opts.async));
  for (const o of opts.outputs) doc.ele(NS.wps, 'wps:Output').ele(NS.ows, 'ows:Identifier').txt(o);
  return serialize(root);
}

function input(parent: ElementWriter, identifier: string, v: InputValue): void {
  const el = parent.ele(NS.wps, 'wps:Input');
  el.ele(NS.ows, 'ows:Identifier').txt(identifier);
  if (v.kind === 'reference') {
    const ref = el.ele(NS.wps, 'wps:Reference').att(NS.xlink, 'xlink:href', v.href);
    if (v.mimeType) ref.att('mimeType', v.mimeType);
    return;
  }
  const data = el.ele(NS.wps, 'wps:Data');
  switch (v.kind) {
    case 'literal': {
      const lit = data.ele(NS.wps, 'wps:LiteralData');
      if (v.uom) lit.att('uom', v.uom);
      lit.txt(v.value);
      break;
    }
    case 'complex': {
      const cd = data.ele(NS.wps, 'wps:ComplexData');
      if (v.mimeType) cd.att('mimeType', v.mimeType);
      if (v.encoding) cd.att('encoding', v.encoding);
      if (v.schema) cd.att('schema', v.schema);
      cd.txt(v.value);
      break;
    }
    case 'bbox': {
      const bb = data.ele(NS.wps, 'wps:BoundingBoxData').att('dimensions', String(v.lowerCorner.length));
      if (v.crs) bb.att('crs', v.crs);
      bb.ele(NS.ows, 'ows:LowerCorner').txt(v.lowerCorner.join(' '));
      bb.ele(NS.ows, 'ows:UpperCorner').txt(v.upperCorner.join(' '));
      break;
    }
  }
}
