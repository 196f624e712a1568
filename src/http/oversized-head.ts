/**
 * Whether a head too large for Node's parser (HPE_HEADER_OVERFLOW) overflowed in its
 * request line, so that a long KVP query is answered 414 URI Too Long and a long header
 * 431. The parser stops with the same error for both and shows only the chunk it was
 * reading, so the chunk decides: the overflow point lies in the request line when the line
 * it is in starts with a method and a space, or, when that line began in an earlier chunk,
 * when the chunk holds nothing a request target cannot (spaces, quotes, control bytes).
 * A single header value that long made only of URI characters reads as 414 too.
 */
export function overflowedInRequestLine(err: Error & { rawPacket?: unknown; bytesParsed?: number }): boolean {
  if (!Buffer.isBuffer(err.rawPacket)) return false;
  const read = err.rawPacket.subarray(0, err.bytesParsed ?? err.rawPacket.length).toString('latin1');
  const lineStart = read.lastIndexOf('\n') + 1;
  const line = read.slice(lineStart);
  if (REQUEST_LINE_START.test(line)) return true;
  return lineStart === 0 && TARGET_CHARACTERS.test(line);
}

const REQUEST_LINE_START = /^[A-Z]+ [^ ]*$/;
// RFC 3986's characters (Node's parser lets a few more through in a target; those are rare).
const TARGET_CHARACTERS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/?%[\]]*$/;
