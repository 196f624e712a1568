import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processes as defaultProcesses } from '../../processes/index.js';
import { loadConfig, type Config, type ConfigFile } from '../../src/config.js';
import type { OperationContext } from '../../src/operations/context.js';
import type { ProcessDefinition } from '../../src/process/types.js';
import { createContext, startServer } from '../../src/server.js';

export interface TestServer {
  url: string;
  /** The WPS endpoint. */
  wps: string;
  config: Config;
  ctx: OperationContext;
  storageDir: string;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Starts the real server on a free loopback port with its own storage directory. */
export async function startTestServer(
  overrides: ConfigFile = {},
  processes: readonly ProcessDefinition[] = defaultProcesses,
): Promise<TestServer> {
  const port = await freePort();
  const storageDir = await mkdtemp(join(tmpdir(), 'wps-test-'));
  const url = `http://127.0.0.1:${port}`;
  const config = loadConfig({
    env: {},
    overrides: {
      ...overrides,
      server: { port, host: '127.0.0.1', baseUrl: url, ...overrides.server },
      storage: { dir: storageDir, ...overrides.storage },
    },
  });
  const ctx = createContext({ config, processes });
  const server: Server = await startServer(ctx);
  return {
    url,
    wps: `${url}/wps`,
    config,
    ctx,
    storageDir,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(storageDir, { recursive: true, force: true });
    },
  };
}
