import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { invalidParameter, OwsException } from '../exceptions.js';
import { refusalReason, type AddressPolicy } from './address-policy.js';

/**
 * Fetches an input given by reference: http and https only, every address checked by
 * the policy (including after redirects), within a deadline and a size cap.
 */

export interface FetchOptions {
  policy: AddressPolicy;
  timeoutMs: number;
  maxBytes: number;
  /** Input identifier, the locator of any exception. */
  locator: string;
  method?: 'GET' | 'POST';
  headers?: { key: string; value: string }[];
  body?: string | Buffer;
  signal?: AbortSignal;
  /** Hears of every chunk received; throwing (a limit of the caller's) fails the fetch with that error. */
  onBytes?: (n: number) => void;
  /** Where to write the body instead of memory (a file in a job's working directory). */
  saveTo?: () => string;
}

/** The body in memory, or in the file `saveTo` named. */
export type Fetched = { bytes: Buffer; contentType: string | undefined } | { file: string; contentType: string | undefined };

const MAX_REDIRECTS = 5;
// Headers a request may not set: they would let a client steer the connection itself.
const FORBIDDEN_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'upgrade', 'te', 'trailer']);

class Refused extends Error {}

/** A DNS lookup that refuses names resolving to any address the policy forbids. */
export function checkedLookup(policy: AddressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { all: true, family: options.family ?? 0 }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      for (const a of addresses) {
        const reason = refusalReason(a.address, hostname, policy);
        if (reason) return callback(new Refused(reason), '', 0);
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    });
  };
}

export async function fetchReference(href: string, opts: FetchOptions): Promise<Fetched> {
  const id = opts.locator;
  const deadline = AbortSignal.timeout(opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([deadline, opts.signal]) : deadline;
  let url = parseUrl(href, id);
  let method = opts.method ?? 'GET';
  let body = opts.body;
  // The client's headers (credentials, often) are for the host it named, not for
  // wherever that host redirects.
  let headers = opts.headers ?? [];
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const res = await request(url, method, body, headers, opts, signal);
    if (res.status >= 300 && res.status < 400 && res.location) {
      const next = parseUrl(new URL(res.location, url).toString(), id);
      if (next.origin !== url.origin) headers = [];
      url = next;
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
      }
      continue;
    }
    if (res.status < 200 || res.status >= 300) {
      throw invalidParameter(id, `Input ${id}: fetching the reference answered HTTP ${res.status}`);
    }
    return res.file !== undefined ? { file: res.file, contentType: res.contentType } : { bytes: res.bytes!, contentType: res.contentType };
  }
  throw invalidParameter(id, `Input ${id}: the reference redirects more than ${MAX_REDIRECTS} times`);
}

function parseUrl(href: string, id: string): URL {
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    throw invalidParameter(id, `Input ${id}: "${href.slice(0, 200)}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalidParameter(id, `Input ${id}: only http and https references are fetched, not ${url.protocol}`);
  }
  if (url.username || url.password) {
    throw invalidParameter(id, `Input ${id}: references may not carry credentials in the URL`);
  }
  return url;
}

interface RawResponse {
  status: number;
  location?: string;
  contentType: string | undefined;
  bytes?: Buffer;
  file?: string;
}

function request(
  url: URL,
  method: 'GET' | 'POST',
  body: string | Buffer | undefined,
  clientHeaders: readonly { key: string; value: string }[],
  opts: FetchOptions,
  signal: AbortSignal,
): Promise<RawResponse> {
  const id = opts.locator;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) {
    const reason = refusalReason(host, host, opts.policy);
    if (reason) return Promise.reject(invalidParameter(id, `Input ${id}: reference refused: ${reason}`));
  }
  const headers: Record<string, string> = { 'user-agent': 'wps-scheduler', accept: '*/*' };
  for (const h of clientHeaders) {
    if (h.key && !FORBIDDEN_HEADERS.has(h.key.toLowerCase()) && !/[\r\n]/.test(h.key + h.value)) {
      headers[h.key] = h.value;
    }
  }
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise<RawResponse>((resolve, reject) => {
    const fail = (err: unknown) => {
      if (err instanceof OwsException) return reject(err);
      if (err instanceof Refused) return reject(invalidParameter(id, `Input ${id}: reference refused: ${err.message}`));
      if (signal.aborted) {
        // Stopped by the caller for a reason of its own (another input failed).
        if (signal.reason instanceof OwsException) return reject(signal.reason);
        return reject(invalidParameter(id, `Input ${id}: fetching the reference took longer than ${opts.timeoutMs / 1000} s`));
      }
      const code = (err as NodeJS.ErrnoException).code;
      reject(invalidParameter(id, `Input ${id}: the reference could not be fetched (${code ?? (err as Error).message})`));
    };
    const req = lib.request(url, { method, headers, lookup: checkedLookup(opts.policy), signal }, (res) => {
      const status = res.statusCode ?? 0;
      const contentType = res.headers['content-type'];
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        return resolve({ status, location: res.headers.location, contentType });
      }
      if (status < 200 || status >= 300) {
        res.resume();
        return resolve({ status, contentType });
      }
      const tooLarge = () =>
        new OwsException('FileSizeExceeded', `Input ${id} is larger than ${opts.maxBytes} bytes`, id);
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > opts.maxBytes) {
        fail(tooLarge());
        return res.destroy();
      }
      const chunks: Buffer[] = [];
      // To a file: written as it arrives, the response paused while the disk catches up.
      const file = opts.saveTo?.();
      const out = file === undefined ? undefined : createWriteStream(file);
      const drop = (err: unknown) => {
        fail(err);
        res.destroy();
        if (out) out.destroy();
        if (file) rm(file, { force: true }).catch(() => undefined);
      };
      out?.on('error', drop);
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        try {
          if (size > opts.maxBytes) throw tooLarge();
          opts.onBytes?.(chunk.length);
        } catch (err) {
          // Reject first: destroying the stream emits its own close and error events.
          drop(err);
          return;
        }
        if (!out) chunks.push(chunk);
        else if (!out.write(chunk)) {
          res.pause();
          out.once('drain', () => res.resume());
        }
      });
      res.on('end', () => {
        if (!out) resolve({ status, contentType, bytes: Buffer.concat(chunks) });
        else out.end(() => resolve({ status, contentType, file: file! }));
      });
      res.on('error', drop);
      res.on('close', () => {
        if (!res.complete) drop(new Error('connection closed'));
      });
    });
    req.on('error', fail);
    req.end(body);
  });
}
