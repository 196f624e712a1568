import type { IncomingMessage } from 'node:http';
import { OwsException } from '../exceptions.js';

/** How much of a refused body is read and thrown away so the client can read the answer. */
const DRAIN_LIMIT = 128 * 1024 * 1024;

/**
 * Reads a request body into memory up to `limit` bytes. A body announced or found to
 * be larger is refused as soon as that is known; what follows is read and discarded
 * (up to DRAIN_LIMIT) rather than reset, because a client still sending would
 * otherwise see a broken connection instead of the ExceptionReport.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    const refuse = () => {
      refused = true;
      chunks.length = 0;
      reject(new OwsException('FileSizeExceeded', `The request body is larger than the limit of ${limit} bytes`));
    };
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) refuse();
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (refused) {
        if (size > DRAIN_LIMIT) req.destroy();
        return;
      }
      if (size > limit) return refuse();
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!refused) resolve(Buffer.concat(chunks, size));
    });
    req.on('error', (err) => {
      if (!refused) reject(err);
    });
  });
}
