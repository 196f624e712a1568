import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isUnixAccount } from './types.js';

/**
 * How a scheduler adapter runs the batch system's commands: here, or over ssh on one
 * of a site's command (login) nodes. Commands are argument arrays. Locally they are
 * spawned without a shell; over ssh the remote side does use a shell, so every argument
 * is single-quoted (and the values are validated before they get here).
 */

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
  /** Run it as this Unix account, through `sudo -n -u` (a portable user name, never root). */
  as?: string;
}

export interface Transport {
  readonly description: string;
  run(command: string, args: readonly string[], opts?: RunOptions): Promise<CommandResult>;
  /** Ends what it keeps open; it may be called more than once. */
  close?(): Promise<void>;
}

/** The command line itself, or the same through sudo as another account (never asking for a password). */
function asAccount(command: string, args: readonly string[], as: string | undefined): [string, readonly string[]] {
  if (as === undefined) return [command, args];
  // Checked here, where every command as another account passes.
  if (!isUnixAccount(as)) throw new TransportError(`not an account to run as: ${JSON.stringify(as)}`);
  return ['sudo', ['-n', '-u', as, '--', command, ...args]];
}

/** The transport itself failed (no node answered, a timeout): the batch system was not asked. */
export class TransportError extends Error {}

const DEFAULT_TIMEOUT_MS = 30_000;

function exec(command: string, args: readonly string[], input: string | undefined, timeoutMs: number): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new TransportError(`${command} did not answer within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new TransportError(`${command}: ${err.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

export class LocalTransport implements Transport {
  readonly description = 'local';

  run(command: string, args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
    const [cmd, argv] = asAccount(command, args, opts.as);
    return exec(cmd, argv, opts.input, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  }
}

export interface SshNode {
  host: string;
  port?: number;
  user?: string;
  /** Private key file for key authentication. */
  key?: string;
}

/** POSIX shell single-quoting: the argument arrives as one word, byte for byte. */
export const shellQuote = (arg: string): string => `'${arg.replace(/'/g, `'\\''`)}'`;

/** ssh's own exit status for "could not connect or authenticate". */
const SSH_FAILED = 255;

/** Seconds an idle shared connection to a command node stays open. */
const CONTROL_PERSIST_SECONDS = 120;

/**
 * Runs commands on the first command node that answers. A node that does not answer
 * is skipped for the next one; the last node that answered is tried first next time.
 *
 * Commands to a node share one ssh connection (OpenSSH's ControlMaster), kept open while
 * it is used: a status round costs a channel, not a key exchange and a login each time.
 * The control sockets live in a private directory of this process, so no other program
 * or configuration rides on the connection.
 */
export class SshTransport implements Transport {
  private preferred = 0;
  private controlDir: string | undefined;
  private closed = false;

  constructor(
    private readonly nodes: readonly SshNode[],
    private readonly options: { connectTimeoutSeconds?: number; knownHostsFile?: string; strictHostKeys?: boolean } = {},
  ) {
    if (nodes.length === 0) throw new Error('ssh transport needs at least one command node');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const dir = this.controlDir;
    if (!dir) return;
    // Each node's shared connection ends now rather than when it has idled long enough.
    await Promise.all(this.nodes.map((node) => exec('ssh', [...this.sshArgs(node, dir), '-O', 'exit', node.host], undefined, 5_000).catch(() => undefined)));
    rmSync(dir, { recursive: true, force: true });
  }

  get description(): string {
    return `ssh ${this.nodes.map((n) => `${n.user ? `${n.user}@` : ''}${n.host}:${n.port ?? 22}`).join(', ')}`;
  }

  async run(command: string, args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
    const [cmd, argv] = asAccount(command, args, opts.as);
    if (this.closed) throw new TransportError('the ssh transport is closed');
    this.controlDir ??= mkdtempSync(join(tmpdir(), 'wps-ssh-'));
    const failures: string[] = [];
    for (let i = 0; i < this.nodes.length; i++) {
      const index = (this.preferred + i) % this.nodes.length;
      const node = this.nodes[index]!;
      let result: CommandResult;
      try {
        result = await exec('ssh', [...this.sshArgs(node, this.controlDir), node.host, '--', [cmd, ...argv].map(shellQuote).join(' ')], opts.input, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      } catch (err) {
        failures.push(`${node.host}: ${(err as Error).message}`);
        continue;
      }
      // ssh's own failures: it could not connect or log in, or the shared connection ended
      // under the command (then ssh exits without a word). The batch systems' commands
      // never exit 255 themselves.
      if (result.code === SSH_FAILED && (result.stderr.trim() === '' || /^(ssh:|Connection|Permission denied|Host key|kex_exchange|mux_client|Control ?[Ss]ocket)/m.test(result.stderr))) {
        failures.push(`${node.host}: ${result.stderr.trim().split('\n').pop() || 'the connection ended under the command'}`);
        continue;
      }
      this.preferred = index;
      return result;
    }
    throw new TransportError(`no command node answered (${failures.join('; ')})`);
  }

  /** ssh's options for the node; the host name goes after them (and after `-O exit`). */
  private sshArgs(node: SshNode, controlDir: string): string[] {
    const args = [
      '-o', 'BatchMode=yes',
      '-o', `ConnectTimeout=${this.options.connectTimeoutSeconds ?? 5}`,
      '-o', `StrictHostKeyChecking=${this.options.strictHostKeys === false ? 'no' : 'yes'}`,
      '-p', String(node.port ?? 22),
    ];
    args.push(
      '-o', 'ControlMaster=auto',
      '-o', `ControlPath=${controlDir}/%C`,
      '-o', `ControlPersist=${CONTROL_PERSIST_SECONDS}`,
      // A shared connection to a node that went silent is given up, not waited on.
      '-o', 'ServerAliveInterval=10',
      '-o', 'ServerAliveCountMax=2',
    );
    if (this.options.knownHostsFile) args.push('-o', `UserKnownHostsFile=${this.options.knownHostsFile}`);
    if (node.key) args.push('-i', node.key, '-o', 'IdentitiesOnly=yes');
    if (node.user) args.push('-l', node.user);
    return args;
  }
}
