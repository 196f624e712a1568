import { setTimeout as wait } from 'node:timers/promises';
import { defineProcess, literalInput, literalOutput } from '../src/process/declare.js';

const STEPS = 5;

export default defineProcess({
  identifier: 'sleep',
  title: 'Sleep',
  abstract: 'Waits for the given number of seconds, reporting progress along the way. Useful to test asynchronous execution.',
  inputs: [
    literalInput('delay', {
      title: 'Delay',
      abstract: 'Seconds to sleep.',
      dataType: 'float',
      allowedValues: [{ min: 0, max: 60 }],
      default: 10,
    }),
  ],
  outputs: [literalOutput('sleep_output', { title: 'Sleep output', dataType: 'string' })],
  async handler({ inputs, progress, signal }) {
    const delay = Number(inputs.literal('delay')!.value);
    for (let step = 1; step <= STEPS; step++) {
      // No timer for a zero delay: it would still cost a turn of the event loop each step.
      if (delay > 0) await wait((delay * 1000) / STEPS, undefined, { signal });
      progress((step * 100) / STEPS, `slept ${((delay * step) / STEPS).toFixed(1)} of ${delay} seconds`);
    }
    return { sleep_output: 'done sleeping' };
  },
});
