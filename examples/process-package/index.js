// A process package: plain JavaScript importing the process API by the server's package
// name. The server offers the default export (a process or an array of them) and every
// named export that is a process.
import {
  complexInput,
  complexOutput,
  defineProcess,
  literalInput,
  literalOutput,
  ProcessError,
} from 'wps-scheduler';

/** A named export: offered as well. */
export const shout = defineProcess({
  identifier: 'shout',
  title: 'Shout',
  abstract: 'Upper-cases a text, repeated a number of times.',
  inputs: [
    literalInput('text', { title: 'Text', dataType: 'string' }),
    literalInput('times', { title: 'Times', dataType: 'integer', default: 1, allowedValues: [{ min: 1, max: 10 }] }),
  ],
  outputs: [literalOutput('shouted', { title: 'Shouted', dataType: 'string' })],
  handler({ inputs }) {
    const text = String(inputs.literal('text').value).trim();
    if (text === '') throw new ProcessError('There is nothing to shout');
    return { shouted: Array(Number(inputs.literal('times').value)).fill(text.toUpperCase()).join(' ') };
  },
});

const lineStats = defineProcess({
  identifier: 'line_stats',
  title: 'Line statistics',
  abstract: 'Counts the lines of a text and the longest one, reporting progress as it goes.',
  inputs: [
    complexInput('text', { title: 'Text', formats: [{ mimeType: 'text/plain' }, { mimeType: 'text/csv' }] }),
  ],
  outputs: [
    literalOutput('lines', { title: 'Lines', dataType: 'integer' }),
    complexOutput('stats', { title: 'Statistics', formats: [{ mimeType: 'application/json' }] }),
  ],
  async handler({ inputs, progress, signal }) {
    const lines = inputs.complex('text').data.toString('utf8').split(/\r?\n/).filter((l) => l !== '');
    let longest = 0;
    for (let i = 0; i < lines.length; i++) {
      signal.throwIfAborted();
      longest = Math.max(longest, lines[i].length);
      if (i % 1000 === 0) progress(Math.floor((100 * i) / lines.length), `line ${i} of ${lines.length}`);
    }
    return { lines: lines.length, stats: JSON.stringify({ lines: lines.length, longest }) };
  },
});

export default [lineStats];
