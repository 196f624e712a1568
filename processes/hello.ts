import { defineProcess, literalInput, literalOutput } from '../src/process/declare.js';

export default defineProcess({
  identifier: 'hello',
  title: 'Say Hello',
  abstract: 'Returns a greeting for the name given.',
  inputs: [literalInput('name', { title: 'Your name', dataType: 'string' })],
  outputs: [literalOutput('output', { title: 'Greeting', dataType: 'string' })],
  handler: ({ inputs }) => ({ output: `Hello ${String(inputs.literal('name')!.value)}` }),
});
