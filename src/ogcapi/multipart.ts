import { randomBytes } from 'node:crypto';

/** One output of a raw response: its bytes, or where it is stored. */
export type RawPart = { id: string; mimeType: string; data: Buffer } | { id: string; mimeType: string; href: string };

/**
 * Several outputs as one raw response (OGC API - Processes' raw, multi-output form):
 * multipart/related, a part per output named by its Content-ID; an output stored by
 * reference is a part that points at it (message/external-body, RFC 2017).
 */
export function multipartRelated(parts: readonly RawPart[]): { contentType: string; body: Buffer } {
  const boundary = `wps-${randomBytes(12).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const head =
      'href' in p
        ? `--${boundary}\r\nContent-Type: message/external-body; access-type=URL; URL="${p.href}"\r\nContent-ID: <${p.id}>\r\n\r\nContent-Type: ${p.mimeType}\r\n\r\n`
        : `--${boundary}\r\nContent-Type: ${p.mimeType}\r\nContent-ID: <${p.id}>\r\n\r\n`;
    chunks.push(Buffer.from(head), 'href' in p ? Buffer.alloc(0) : p.data, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { contentType: `multipart/related; boundary=${boundary}`, body: Buffer.concat(chunks) };
}
