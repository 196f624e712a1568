import { defineProcess, literalOutput } from '../../src/process/declare.js';

/** A process that may not run asynchronously (storeSupported false). */
export const syncOnly = defineProcess({
  identifier: 'sync_only',
  title: 'Synchronous only',
  storeSupported: false,
  inputs: [],
  outputs: [literalOutput('out', { title: 'Out', dataType: 'string' })],
  handler: () => ({ out: 'x' }),
});
