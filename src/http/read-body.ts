import type { IncomingMessage } from 'node:http';
import { OwsException } from '../exceptions.js';
import type { BudgetLease } from '../processing/byte-budget.js';

/** How much of a refused body is read and thrown away so the client can read the answer. */
const DRAIN_LIMIT = 128 * 1024 * 1024;

/**
 * Reads a request body into memory up to `limit` bytes, each chunk taken from `lease`
 * (the server's memory for requests in progress) when one is given. A body announced
 * or found to be larger, or one the server has no room for (ServerBusy), is refused as
 * soon as that is known; what follows is read and discarded (up to DRAIN_LIMIT) rather
 * than reset, because a client still sending would otherwise see a broken connection
 * instead of the ExceptionReport.
 */
export function readBody(req: IncomingMessage, limit: number, lease?: BudgetLease): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    const refuse = (err: unknown) => {
      refused = true;
      chunks.length = 0;
      lease?.release();
      reject(err);
    };
    const tooLarge = () => new OwsException('FileSizeExceeded', `The request body is larger than the limit of ${limit} bytes`);
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) refuse(tooLarge());
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (refused) {
        if (size > DRAIN_LIMIT) req.destroy();
        return;
      }
      if (size > limit) return refuse(tooLarge());
      try {
        lease?.take(chunk.length);
      } catch (err) {
        return refuse(err);
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!refused) resolve(Buffer.concat(chunks, size));
    });
    req.on('error', (err) => {
      if (!refused) refuse(err);
    });
    // A connection that ends mid-body (the client hung up, or the server cut a sender
    // that was too slow) may emit no error: the body so far is dropped all the same.
    req.on('close', () => {
      if (!refused && !req.complete) refuse(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    });
  });
}
