import { createServer, type Server, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';

// Requests a client may send before its startup message (their length is 8 or 16 bytes).
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;

const SYNC = frame('S', '');
const ROLLBACK = frame('Q', 'ROLLBACK\0');

/** A protocol message: its type, its length, its body. */
function frame(type: string, body: string): Buffer {
  const bytes = Buffer.from(body);
  const message = Buffer.alloc(5 + bytes.length);
  message.write(type);
  message.writeInt32BE(4 + bytes.length, 1);
  bytes.copy(message, 5);
  return message;
}

/** One client connection: bytes received, split into whole protocol messages. */
class Connection {
  private buffer: Buffer = Buffer.alloc(0);
  private started = false;
  /** Whole messages not yet given to the backend. */
  pending: Buffer[] = [];
  /**
   * Whether the last message received ends a command (the client then waits for
   * ReadyForQuery). Once its messages have run, a client without it is mid-command:
   * the backend's state (an unnamed statement, a failed cycle) belongs to it.
   */
  endsCommand = false;
  terminated = false;

  constructor(readonly socket: Socket) {}

  receive(data: Buffer): void {
    this.buffer = this.buffer.length > 0 ? Buffer.concat([this.buffer, data]) : data;
    for (;;) {
      if (!this.started) {
        if (this.buffer.length < 8) return;
        const length = this.buffer.readInt32BE(0);
        if (this.buffer.length < length) return;
        const code = this.buffer.readInt32BE(4);
        const message = this.buffer.subarray(0, length);
        this.buffer = this.buffer.subarray(length);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          this.socket.write('N'); // no encryption on a local socket
        } else if (code === PROTOCOL_3) {
          this.started = true;
          this.pending.push(message);
          this.endsCommand = true;
        } else {
          // A cancel request (nothing to signal in a single-session backend) or a
          // protocol this backend does not speak.
          if (code !== CANCEL_REQUEST) this.socket.write(frame('E', 'SFATAL\0C08P01\0Munsupported frontend protocol\0\0'));
          this.terminated = true;
          return;
        }
        continue;
      }
      if (this.buffer.length < 5) return;
      const length = 1 + this.buffer.readInt32BE(1);
      if (this.buffer.length < length) return;
      const type = String.fromCharCode(this.buffer[0]!);
      const message = this.buffer.subarray(0, length);
      this.buffer = this.buffer.subarray(length);
      if (type === 'X') {
        this.terminated = true;
        return;
      }
      this.pending.push(message);
      // The client then waits for ReadyForQuery: another client may have the backend.
      this.endsCommand = type === 'S' || type === 'Q' || type === 'F';
    }
  }
}

/**
 * Serves a PGlite database over the Postgres wire protocol on a Unix socket, so that
 * the WPS server reaches the embedded store with the same client as a Postgres server
 * (pg), from another process, and an operator can look in with psql.
 *
 * PGlite has one backend session. A connection holds it from its first message until
 * it waits for a new command outside a transaction (after Sync or a simple Query);
 * other connections' messages wait their turn, so one client's transaction or
 * unnamed statement is never interleaved with another's.
 */
export function servePglite(db: PGlite, socketPath: string, onFatal: (err: Error) => void): Promise<Server> {
  const waiting: Connection[] = [];
  let owner: Connection | undefined;
  let running = false;

  const next = (): Connection | undefined => {
    if (owner) return owner.pending.length > 0 || owner.terminated || owner.socket.destroyed ? owner : undefined;
    const at = waiting.findIndex((c) => c.pending.length > 0);
    return at >= 0 ? waiting.splice(at, 1)[0] : undefined;
  };

  const release = async (conn: Connection): Promise<void> => {
    // A client gone mid-command leaves the backend as it was: finish the command and
    // undo its transaction, so the next client starts clean.
    if (!conn.endsCommand) await db.execProtocolRaw(SYNC);
    if (db.isInTransaction()) await db.execProtocolRaw(ROLLBACK);
    if (owner === conn) owner = undefined;
  };

  const pump = async (): Promise<void> => {
    if (running) return;
    running = true;
    try {
      for (let conn = next(); conn; conn = next()) {
        if (conn.pending.length > 0) {
          const batch = conn.pending.length === 1 ? conn.pending[0]! : Buffer.concat(conn.pending);
          conn.pending = [];
          const reply = await db.execProtocolRaw(batch);
          if (!conn.socket.destroyed && reply.length > 0) conn.socket.write(reply);
          owner = !conn.endsCommand || db.isInTransaction() ? conn : undefined;
        }
        if (conn.terminated || conn.socket.destroyed) {
          await release(conn);
          conn.socket.end();
        } else if (owner !== conn && !waiting.includes(conn)) {
          waiting.push(conn);
        }
      }
    } catch (err) {
      // The backend itself failed (a wasm trap): nothing it holds can be trusted.
      onFatal(err as Error);
    } finally {
      running = false;
    }
  };

  const server = createServer((socket) => {
    const conn = new Connection(socket);
    waiting.push(conn);
    socket.on('data', (data) => {
      conn.receive(data);
      if (conn.terminated && conn.pending.length === 0 && owner !== conn) socket.end();
      else void pump();
    });
    socket.on('close', () => {
      conn.terminated = true;
      const at = waiting.indexOf(conn);
      if (at >= 0) waiting.splice(at, 1);
      if (owner === conn) void pump();
    });
    socket.on('error', () => undefined); // a client that went away: 'close' follows
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
