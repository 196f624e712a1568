import { randomUUID } from 'node:crypto';
import { boundingBoxXml, type ProducedOutput } from '../ows/execute-response.js';
import { formatLiteral } from '../process/literal-types.js';
import type { OutputSelection, OutputValue } from '../process/outputs.js';
import type { OutputStore } from '../storage/output-store.js';

/** The bytes of an output as a file or a raw response carries them, with their media type. */
export function outputBytes(selection: OutputSelection, value: OutputValue): { data: Buffer; mimeType: string } {
  switch (value.type) {
    case 'literal': {
      const dataType = selection.output.type === 'literal' ? selection.output.dataType : 'string';
      return { data: Buffer.from(formatLiteral(dataType, value.value), 'utf8'), mimeType: 'text/plain' };
    }
    case 'complex': {
      const base64 = value.encoding?.toLowerCase() === 'base64' && selection.encoding === 'base64';
      return { data: base64 ? Buffer.from(value.data.toString('base64')) : value.data, mimeType: value.mimeType };
    }
    case 'bbox':
      return { data: Buffer.from(boundingBoxXml(value), 'utf8'), mimeType: 'text/xml' };
  }
}

/** Writes the outputs asked for by reference to storage; the rest stay inline. */
export async function storeOutputs(
  store: OutputStore,
  selections: readonly OutputSelection[],
  values: readonly OutputValue[],
  jobId?: string,
): Promise<ProducedOutput[]> {
  if (!selections.some((s) => s.asReference)) return selections.map((selection, i) => ({ selection, value: values[i]! }));
  let id = jobId;
  return Promise.all(
    selections.map(async (selection, i): Promise<ProducedOutput> => {
      const value = values[i]!;
      if (!selection.asReference) return { selection, value };
      id ??= randomUUID();
      const { data, mimeType } = outputBytes(selection, value);
      const href = await store.writeOutput(id, selection.output.identifier, data, mimeType);
      return { selection, value, href };
    }),
  );
}
