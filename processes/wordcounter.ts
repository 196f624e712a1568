import { complexInput, complexOutput, defineProcess } from '../src/process/declare.js';

export default defineProcess({
  identifier: 'wordcounter',
  title: 'Word counter',
  abstract: 'Counts the words of a text: lower-cased runs of letters and digits.',
  inputs: [
    complexInput('text', {
      title: 'Text',
      abstract: 'Plain text, by value or by reference.',
      formats: [{ mimeType: 'text/plain' }],
      maximumMegabytes: 50,
    }),
  ],
  outputs: [
    complexOutput('output', {
      title: 'Word counts',
      abstract: 'JSON: {"total": words, "counts": {word: occurrences}}',
      formats: [{ mimeType: 'application/json' }],
    }),
  ],
  handler({ inputs }) {
    const text = inputs.complex('text')!.data.toString('utf8');
    const counts: Record<string, number> = {};
    let total = 0;
    for (const [word] of text.toLowerCase().matchAll(/[\p{L}\p{N}]+/gu)) {
      counts[word] = (counts[word] ?? 0) + 1;
      total++;
    }
    return { output: JSON.stringify({ total, counts }) };
  },
});
