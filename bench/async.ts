/**
 * Asynchronous Execute, measured against the built server in its own process:
 * accepted-response latency, time from the first submission of N zero-delay `sleep`
 * jobs to the last ProcessSucceeded, and status-document polling. Used by bench/run.ts.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';

export interface AsyncFigures {
  jobs: number;
  /** Submissions not answered with ProcessAccepted (HTTP errors, exceptions). */
  refused: number;
  acceptedP50Ms: number;
  acceptedP99Ms: number;
  submitSeconds: number;
  allSucceededSeconds: number;
  failed: number;
  lost: number;
}

/** The submission every job benchmark sends: an asynchronous zero-delay `sleep`, with status. */
export const SLEEP_SUBMISSION = '/wps?service=WPS&request=Execute&version=1.0.0&identifier=sleep&DataInputs=delay=0&storeExecuteResponse=true&status=true';

/** The p-th percentile of values sorted in ascending order. */
export const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
/** The same, of figures in any order. */
export const percentileOf = (xs: readonly number[], p: number) => percentile([...xs].sort((a, b) => a - b), p);
export const median = (xs: readonly number[]) => percentileOf(xs, 50);

export async function runAsyncJobs(
  base: string,
  storageDir: string,
  jobs: number,
  concurrency: number,
  timeoutMs = 300_000,
): Promise<AsyncFigures & { anyLocation: string }> {
  const url = `${base}${SLEEP_SUBMISSION}`;
  const latencies: number[] = [];
  const ids: string[] = [];
  let refused = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < jobs) {
        next++;
        const started = performance.now();
        const res = await fetch(url);
        const text = await res.text();
        latencies.push(performance.now() - started);
        const id = /statusLocation="[^"]*\/([0-9a-f-]{36})\.xml"/.exec(text)?.[1];
        if (id) ids.push(id);
        else refused++;
      }
    }),
  );
  const submitted = performance.now();
  // Read the status documents from disk, so polling adds no load to the server.
  const remaining = new Set(ids);
  let failed = 0;
  const deadline = Date.now() + timeoutMs;
  while (remaining.size > 0 && Date.now() < deadline) {
    for (const id of [...remaining]) {
      const doc = await readFile(join(storageDir, `${id}.xml`), 'utf8').catch(() => '');
      if (doc.includes('<wps:ProcessSucceeded')) remaining.delete(id);
      else if (doc.includes('<wps:ProcessFailed')) {
        failed++;
        remaining.delete(id);
      }
    }
    if (remaining.size > 0) await wait(10);
  }
  const done = performance.now();
  latencies.sort((a, b) => a - b);
  return {
    jobs,
    refused,
    acceptedP50Ms: percentile(latencies, 50),
    acceptedP99Ms: percentile(latencies, 99),
    submitSeconds: (submitted - t0) / 1000,
    allSucceededSeconds: (done - t0) / 1000,
    failed,
    lost: remaining.size,
    anyLocation: `${base}/outputs/${ids[0]}.xml`,
  };
}
