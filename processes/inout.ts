import { defineProcess, literalInput, literalOutput } from '../src/process/declare.js';

export default defineProcess({
  identifier: 'inout',
  title: 'In and out',
  abstract: 'Echoes literal inputs of several types, in their XML lexical form.',
  inputs: [
    literalInput('int_in', { title: 'Integer', dataType: 'integer', allowedValues: [{ min: 1, max: 10 }] }),
    literalInput('bool_in', { title: 'Boolean', dataType: 'boolean' }),
    literalInput('float_in', { title: 'Length', dataType: 'float', uoms: ['metre', 'feet'] }),
    literalInput('string_in', {
      title: 'Choice',
      dataType: 'string',
      allowedValues: ['rock', 'paper', 'scissors'],
    }),
    literalInput('tags', {
      title: 'Tags',
      abstract: 'Up to three words, echoed comma-separated in tags_out.',
      dataType: 'string',
      minOccurs: 0,
      maxOccurs: 3,
    }),
  ],
  outputs: [
    literalOutput('int_out', { title: 'Integer', dataType: 'integer' }),
    literalOutput('bool_out', { title: 'Boolean', dataType: 'boolean' }),
    literalOutput('float_out', { title: 'Length', dataType: 'float', uoms: ['metre', 'feet'] }),
    literalOutput('string_out', { title: 'Choice', dataType: 'string' }),
    literalOutput('tags_out', { title: 'Tags', dataType: 'string' }),
  ],
  handler({ inputs }) {
    const float = inputs.literal('float_in')!;
    return {
      int_out: inputs.literal('int_in')!.value,
      bool_out: inputs.literal('bool_in')!.value,
      float_out: float.uom ? { value: float.value, uom: float.uom } : float.value,
      string_out: inputs.literal('string_in')!.value,
      tags_out: inputs.literals('tags').map((t) => String(t.value)).join(','),
    };
  },
});
