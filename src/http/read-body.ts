import type { IncomingMessage } from 'node:http';
import { OwsException } from '../exceptions.js';

/**
 * Reads a request body into memory up to `limit` bytes. A body announced or found to
 * be larger is refused as soon as that is known, without reading the rest.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () =>
    new OwsException('FileSizeExceeded', `The request body is larger than the limit of ${limit} bytes`);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}
