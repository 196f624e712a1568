/**
 * The floor of an accepted response: node:http doing only the two durable writes an
 * asynchronous submission cannot do without (its row committed in a Postgres, inserted
 * in groups as the server does, and its status document created on storage), then
 * answering the document. No parsing, no validation, no queue, no jobs. What a real
 * server adds to an accepted response is measured against this, on the same machine,
 * in the same minutes.
 *
 * DATABASE_URL, SCHEMA (created afresh), STORAGE_DIR, TEMPLATE (an accepted document
 * whose job id, wherever it appears, is replaced by each new job's), PORT.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import pg from 'pg';

const schema = process.env.SCHEMA!;
const dir = process.env.STORAGE_DIR!;
const template = readFileSync(process.env.TEMPLATE!, 'utf8');
const templateId = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.xml/.exec(template)![1]!;
const db = new pg.Client({ connectionString: process.env.DATABASE_URL });
await db.connect();
await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE; CREATE SCHEMA "${schema}"`);
await db.query(`CREATE TABLE "${schema}".jobs (id uuid PRIMARY KEY, request jsonb NOT NULL, state text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`);

interface Pending {
  id: string;
  request: string;
  done: (err?: Error) => void;
}
const pending: Pending[] = [];
let inFlight = 0;
let scheduled = false;

/** Group commit, as the server's store does it: what arrived meanwhile, one statement, two in flight. */
function schedule(): void {
  if (scheduled || inFlight >= 2 || pending.length === 0) return;
  scheduled = true;
  setImmediate(() => {
    scheduled = false;
    const batch = pending.splice(0, 500);
    inFlight++;
    const values = batch.map((_, i) => `($${2 * i + 1}::uuid, $${2 * i + 2}::jsonb, 'accepted')`).join(', ');
    db.query(`INSERT INTO "${schema}".jobs (id, request, state) VALUES ${values}`, batch.flatMap((p) => [p.id, p.request])).then(
      () => batch.forEach((p) => p.done()),
      (err: Error) => batch.forEach((p) => p.done(err)),
    ).finally(() => {
      inFlight--;
      schedule();
    });
    schedule();
  });
}

createServer((req, res) => {
  if (req.url === '/health') return void res.end('ok');
  const id = randomUUID();
  const body = template.replaceAll(templateId, id);
  new Promise<void>((resolve, reject) => {
    pending.push({ id, request: JSON.stringify({ url: req.url }), done: (err) => (err ? reject(err) : resolve()) });
    schedule();
    // Created in place, synchronously: of the ways tried, the cheapest for this server.
    writeFileSync(join(dir, `${id}.xml`), body, { flag: 'wx' });
  }).then(
    () => {
      res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    },
    (err: Error) => {
      res.writeHead(500);
      res.end(err.message);
    },
  );
}).listen(Number(process.env.PORT), '127.0.0.1');

process.on('SIGTERM', () => void db.end().finally(() => process.exit(0)));
