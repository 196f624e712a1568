/**
 * The ceiling: node:http answering fixed bytes, no framework, no work. Serves each file
 * of BODIES_DIR at /<file name>, so every request of the benchmark has a bare twin that
 * answers exactly the bytes the WPS answers.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

const dir = process.env.BODIES_DIR!;
const bodies = new Map(readdirSync(dir).map((f) => [`/${f}`, readFileSync(join(dir, f))]));
createServer((req, res) => {
  const body = bodies.get(req.url ?? '') ?? Buffer.from('ok');
  res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8', 'content-length': body.length });
  res.end(body);
}).listen(Number(process.env.PORT ?? 0), '127.0.0.1');
