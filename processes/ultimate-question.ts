import { defineProcess, literalOutput } from '../src/process/declare.js';

export default defineProcess({
  identifier: 'ultimate_question',
  title: 'Answer to the Ultimate Question of Life, the Universe, and Everything',
  abstract: 'Computes the answer, which takes a while less than seven and a half million years.',
  inputs: [],
  outputs: [literalOutput('answer', { title: 'Answer', dataType: 'string' })],
  handler: ({ progress }) => {
    progress(50, 'thinking');
    return { answer: '42' };
  },
});
