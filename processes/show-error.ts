import { defineProcess, literalOutput } from '../src/process/declare.js';
import { ProcessError } from '../src/process/types.js';

export default defineProcess({
  identifier: 'show_error',
  title: 'Show a WPS error',
  abstract: 'Always fails, to show how a failed process looks to a client.',
  inputs: [],
  outputs: [literalOutput('output', { title: 'Never produced', dataType: 'string' })],
  handler() {
    // What a failing tool leaves in its log: a job's stderr is kept for /jobs/{id}/logs.
    console.error('show_error: about to fail on purpose');
    throw new ProcessError('This process failed intentionally.');
  },
});
