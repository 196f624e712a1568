import { shellQuote } from './transport.js';
import type { JobTemplate } from './types.js';

/**
 * The batch script a scheduler runs for a job: a fixed template into which only
 * template values go, each single-quoted (and checked by checkTemplate first). It is
 * handed to qsub/sbatch on stdin, never through a command line.
 */
export function renderJobScript(t: JobTemplate, directives: readonly string[] = []): string {
  const lines = ['#!/bin/sh', ...directives, `# WPS job ${t.jobId}: every value below is quoted; nothing here comes from a request.`];
  for (const [name, value] of Object.entries(t.env)) lines.push(`export ${name}=${shellQuote(value)}`);
  lines.push(`cd ${shellQuote(t.workingDirectory)} || exit 97`);
  lines.push(`exec ${[t.remoteCommand, ...t.args].map(shellQuote).join(' ')}`);
  return `${lines.join('\n')}\n`;
}
