import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GridEngineScheduler } from '../../src/scheduler/gridengine.js';
import { SlurmScheduler } from '../../src/scheduler/slurm.js';
import { SshTransport, type Transport } from '../../src/scheduler/transport.js';
import type { Scheduler } from '../../src/scheduler/types.js';

export type BatchSystem = 'gridengine' | 'slurm';

const probes: Record<BatchSystem, [string, string[]]> = {
  gridengine: ['qstat', ['-xml']],
  slurm: ['squeue', ['-h']],
};

function answers(system: BatchSystem): boolean {
  try {
    execFileSync(probes[system][0], probes[system][1], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether the scheduler tests can run. `scripts/schedulers/start.sh` starts the batch
 * systems and the test sshd; `.ci/run` calls it. In CI a missing one fails the suite;
 * elsewhere its tests are skipped, saying why.
 */
export function available(system: BatchSystem): boolean {
  const ok = answers(system);
  if (!ok && process.env.CI) throw new Error(`${system} is not running (scripts/schedulers/start.sh starts it)`);
  if (!ok) console.warn(`skipping ${system} tests: not running (scripts/schedulers/start.sh starts it)`);
  return ok;
}

export const SSH_DIR = process.env.WPS_TEST_SSH_DIR ?? '/var/lib/wps-test-ssh';
export const SSH_PORT = Number(process.env.WPS_TEST_SSH_PORT ?? 2222);

export function sshAvailable(): boolean {
  const ok = existsSync(join(SSH_DIR, 'id_ed25519')) && existsSync(join(SSH_DIR, 'known_hosts'));
  if (!ok && process.env.CI) throw new Error('the test sshd is not set up (scripts/test-sshd.sh)');
  return ok;
}

/** An ssh transport to the test sshd; `deadFirst` puts a node that never answers in front. */
export function sshTransport(deadFirst = false): Transport {
  const live = { host: '127.0.0.1', port: SSH_PORT, user: 'root', key: join(SSH_DIR, 'id_ed25519') };
  const dead = { host: '127.0.0.1', port: 1, user: 'root', key: join(SSH_DIR, 'id_ed25519') };
  return new SshTransport(deadFirst ? [dead, live] : [live], { knownHostsFile: join(SSH_DIR, 'known_hosts'), connectTimeoutSeconds: 3 });
}

/**
 * Debian's GridEngine commands themselves, past the wrappers on the PATH that work out the
 * host's architecture at every call (the test servers poll GridEngine often).
 */
export const DEBIAN_GRIDENGINE = existsSync('/usr/lib/gridengine/qstat')
  ? { commands: '/usr/lib/gridengine', root: '/var/lib/gridengine', cell: 'default' }
  : undefined;

/** An adapter for the batch system; GridEngine's commands from the PATH unless `direct`. */
export function batchScheduler(system: BatchSystem, transport?: Transport, direct = false): Scheduler {
  if (system === 'slurm') return new SlurmScheduler(transport ? { transport } : {});
  const d = direct ? DEBIAN_GRIDENGINE : undefined;
  return new GridEngineScheduler({ ...(transport ? { transport } : {}), ...(d ? { commands: { dir: d.commands, root: d.root, cell: d.cell } } : {}) });
}
