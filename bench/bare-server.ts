/** The ceiling: node:http answering fixed bytes, no framework, no work. */
import { createServer } from 'node:http';

const body = Buffer.from(process.env.BODY ?? 'ok');
createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8', 'content-length': body.length });
  res.end(body);
}).listen(Number(process.env.PORT ?? 0), '127.0.0.1');
