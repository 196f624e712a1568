import { pino, type Logger } from 'pino';

/**
 * Structured JSON logs (pino), one object per line on stdout. Entries carry `jobId`
 * wherever a job is concerned (server, dispatcher, runner), so one grep follows a job.
 * The call shape stays small: `log({ level, msg, ...fields })`.
 */
export type Log = (entry: { level?: 'debug' | 'info' | 'warn' | 'error'; msg: string } & Record<string, unknown>) => void;

export function pinoLog(logger: Logger = pino({ level: process.env.WPS_LOG_LEVEL ?? 'info', base: { pid: process.pid } })): Log {
  return ({ level = 'info', msg, ...fields }) => logger[level](fields, msg);
}

export const jsonLog: Log = pinoLog();

export const silentLog: Log = () => undefined;
