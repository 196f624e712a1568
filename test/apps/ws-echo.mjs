// A small websocket application for the session tests: echoes every message, answers
// HTTP with what it was asked (path, headers), and streams N bytes from /bytes/N.
// Prints its ready line once it listens. Usage: ws-echo.mjs HOST PORT [--base PATH] [ARG…]
// (further arguments are only shown back, as `argv`).
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const [host, port, ...rest] = process.argv.slice(2);
const base = rest[0] === '--base' ? rest[1] : '';
const server = createServer((req, res) => {
  const path = req.url.slice(base.length) || '/';
  const bytes = /^\/bytes\/(\d+)$/.exec(path);
  if (bytes) {
    const total = Number(bytes[1]);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total });
    const chunk = Buffer.alloc(64 * 1024, 120);
    let left = total;
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return res.once('drain', pump);
      }
      res.end();
    };
    return pump();
  }
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'app=1; Path=/' });
    res.end(JSON.stringify({ app: 'ws-echo', method: req.method, url: req.url, headers: req.headers, body, argv: rest }));
  });
});
const wss = new WebSocketServer({ server });
wss.on('connection', (ws, req) => {
  ws.send(JSON.stringify({ hello: req.url }));
  ws.on('message', (data, binary) => ws.send(data, { binary }));
});
server.listen(Number(port), host, () => console.log(`ws-echo listening on ${host}:${port}`));
process.on('SIGTERM', () => {
  console.log('ws-echo stopping');
  process.exit(0);
});
