import { connect } from 'node:net';
import { setTimeout as wait } from 'node:timers/promises';
import { statusOf, type StatusView } from './async.js';

/** Polls a status document until `done` says so; every distinct document seen, in order. */
export async function untilStatus(location: string, done: (v: StatusView) => boolean, timeoutMs = 60_000): Promise<StatusView[]> {
  const seen: StatusView[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = statusOf(await (await fetch(location)).text());
    if (seen.at(-1)?.xml !== view.xml) seen.push(view);
    if (done(view)) return seen;
    if (Date.now() > deadline) throw new Error(`timed out: ${seen.map((v) => `${v.name} ${v.message}`).join(' → ')}`);
    await wait(50);
  }
}

export const isFinal = (v: StatusView): boolean => v.name === 'ProcessSucceeded' || v.name === 'ProcessFailed';

/** Until the session is ready (its message carries the URL) or its job ended. */
export const untilReady = (location: string, timeoutMs?: number): Promise<StatusView[]> =>
  untilStatus(location, (v) => /Session ready: /.test(v.message) || isFinal(v), timeoutMs);

export async function untilFinal(location: string, timeoutMs?: number): Promise<StatusView> {
  return (await untilStatus(location, isFinal, timeoutMs)).at(-1)!;
}

/** The session URL a ready session's status document gives (with its secret). */
export function linkOf(view: StatusView): string {
  const link = /Session ready: (\S+)/.exec(view.message)?.[1];
  if (!link) throw new Error(`no session URL in ${view.name}: ${view.message || view.xml}`);
  return link;
}

export const sessionIdOf = (link: string): string => /sessions\/([0-9a-f-]{36})\//.exec(link)![1]!;

/** Whether something listens on a loopback port. */
export function listening(port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), done(true)));
    s.once('error', () => done(false));
  });
}
