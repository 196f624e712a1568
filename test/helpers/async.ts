import { setTimeout as wait } from 'node:timers/promises';
import { expect } from 'vitest';
import { expectSchemaValid, parseXml } from './http.js';

export type StatusName = 'ProcessAccepted' | 'ProcessStarted' | 'ProcessPaused' | 'ProcessSucceeded' | 'ProcessFailed';

export interface StatusView {
  name: StatusName;
  percent: number | undefined;
  message: string;
  xml: string;
}

const ORDER: Record<StatusName, number> = {
  ProcessAccepted: 0,
  ProcessStarted: 1,
  ProcessPaused: 1,
  ProcessSucceeded: 2,
  ProcessFailed: 2,
};

export function statusOf(xml: string): StatusView {
  const status = parseXml(xml).ExecuteResponse.Status;
  const name = (Object.keys(status).find((k) => k in ORDER) ?? 'unknown') as StatusName;
  const el = status[name];
  const percent = el?.['@percentCompleted'] === undefined ? undefined : Number(el['@percentCompleted']);
  const message = typeof el === 'string' ? el : String(el?.['#text'] ?? '');
  return { name, percent, message, xml };
}

export const statusLocationOf = (xml: string): string => parseXml(xml).ExecuteResponse['@statusLocation'];

/**
 * Polls a status document until it is final, as fast as `intervalMs` allows; returns
 * every distinct document seen, each checked to be whole and never older than the
 * one before it.
 */
export async function followStatus(url: string, opts: { intervalMs?: number; timeoutMs?: number; headers?: Record<string, string> } = {}): Promise<StatusView[]> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  const seen: StatusView[] = [];
  let last = '';
  for (;;) {
    const res = await fetch(url, { headers: opts.headers ?? {} });
    expect(res.status).toBe(200);
    const xml = await res.text();
    if (xml !== last) {
      last = xml;
      const view = statusOf(xml);
      const prev = seen[seen.length - 1];
      if (prev) {
        expect(ORDER[view.name], `${prev.name} → ${view.name}`).toBeGreaterThanOrEqual(ORDER[prev.name]);
        if (prev.percent !== undefined && view.percent !== undefined) expect(view.percent).toBeGreaterThanOrEqual(prev.percent);
      }
      seen.push(view);
      if (view.name === 'ProcessSucceeded' || view.name === 'ProcessFailed') return seen;
    }
    if (Date.now() > deadline) throw new Error(`no final status at ${url} after ${opts.timeoutMs ?? 30_000} ms: ${seen.map((s) => s.name).join(' → ')}`);
    await wait(opts.intervalMs ?? 20);
  }
}

/** Every distinct document seen validates against the OGC schemas. */
export async function expectAllValid(views: readonly StatusView[]): Promise<void> {
  for (const v of views) await expectSchemaValid(v.xml);
}
