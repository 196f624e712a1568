import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';

/**
 * Sent with every answer: documents and outputs hold what clients and processes gave,
 * and are served from the server's own origin. A browser that opens one runs nothing
 * in it (no script, no form, no plugin) and never takes it for another type.
 */
export const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; sandbox",
} as const;

/** What the endpoints served straight on node:http answer (see server.ts for why). */
export interface HttpAnswer {
  status: number;
  /** Sent verbatim: a raw output's Content-Type is its mimeType, nothing added. */
  contentType: string;
  /** A stream's Content-Length, when known, comes in `headers`. */
  body: string | Buffer | Readable;
  headers?: Record<string, string>;
}

/**
 * Writes an answer in one writeHead: Node builds the head at once from the object
 * instead of collecting headers one by one. A HEAD request gets the head alone.
 * `onStreamError` hears of a stream body that ended early, whether it failed or the
 * client hung up (`clientGone` tells them apart).
 */
export function send(req: IncomingMessage, res: ServerResponse, answer: HttpAnswer, onStreamError?: (err: Error) => void): void {
  const head: OutgoingHttpHeaders = {
    'content-type': answer.contentType,
    'x-content-type-options': SECURITY_HEADERS['x-content-type-options'],
    'content-security-policy': SECURITY_HEADERS['content-security-policy'],
  };
  if (answer.headers) Object.assign(head, answer.headers);
  const body = answer.body;
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    // A 304 has no body, and its length would claim the full one's.
    if (answer.status !== 304) head['content-length'] = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    res.writeHead(answer.status, head);
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  try {
    res.writeHead(answer.status, head);
  } catch (err) {
    body.destroy();
    throw err;
  }
  if (req.method === 'HEAD') {
    body.destroy();
    res.end();
    return;
  }
  // A client that hangs up, or a file that fails mid-read, ends the response where it
  // is; pipeline closes the file either way.
  pipeline(body, res, (err) => {
    if (err) onStreamError?.(err);
  });
}

/** Errors that only say the client went away: nothing for an operator to act on. */
export function clientGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'EPIPE' || (err as Error | undefined)?.message === 'aborted';
}
