import { defineProcess, literalOutput } from '../src/process/declare.js';
import { ProcessError } from '../src/process/types.js';

export default defineProcess({
  identifier: 'show_error',
  title: 'Show a WPS error',
  abstract: 'Always fails, to show how a failed process looks to a client.',
  inputs: [],
  outputs: [literalOutput('output', { title: 'Never produced', dataType: 'string' })],
  handler() {
    throw new ProcessError('This process failed intentionally.');
  },
});
