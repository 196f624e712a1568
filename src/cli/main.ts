#!/usr/bin/env node
import { processes } from '../../processes/index.js';
import { ConfigError, loadConfig } from '../config.js';
import { createContext, startServer } from '../server.js';

const USAGE = `usage: wps-server <command> [--config FILE]

commands:
  serve     start the WPS server (PORT, WPS_BASE_URL, WPS_CONFIG ... see README)
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const configAt = rest.indexOf('--config');
  const file = configAt >= 0 ? rest[configAt + 1] : undefined;
  switch (command) {
    case 'serve': {
      const config = loadConfig(file ? { file } : {});
      const ctx = createContext({ config, processes });
      const server = await startServer(ctx);
      console.log(
        JSON.stringify({ level: 'info', msg: 'listening', url: `${config.baseUrl}/wps`, host: config.host, port: config.port }),
      );
      const stop = () => server.close(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      return -1;
    }
    default:
      process.stderr.write(USAGE);
      return command === undefined || command === '-h' || command === '--help' ? 0 : 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    if (err instanceof ConfigError) process.stderr.write(`configuration error: ${err.message}\n`);
    else process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
