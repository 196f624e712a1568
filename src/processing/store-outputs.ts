import { randomUUID } from 'node:crypto';
import { boundingBoxXml, type ProducedOutput } from '../ows/execute-response.js';
import { formatLiteral } from '../process/literal-types.js';
import type { OutputSelection, OutputValue } from '../process/outputs.js';
import { ComplexData } from '../process/complex-data.js';
import type { OutputStore } from '../storage/output-store.js';

/** Whether a complex output is carried as base64 text: only when the client asked so. */
const inBase64 = (selection: OutputSelection, value: OutputValue): boolean =>
  value.type === 'complex' && value.encoding?.toLowerCase() === 'base64' && selection.encoding === 'base64';

/** The bytes of an output as a file or a raw response carries them, with their media type. */
export function outputBytes(selection: OutputSelection, value: OutputValue): { data: Buffer; mimeType: string } {
  switch (value.type) {
    case 'literal': {
      const dataType = selection.output.type === 'literal' ? selection.output.dataType : 'string';
      return { data: Buffer.from(formatLiteral(dataType, value.value), 'utf8'), mimeType: 'text/plain' };
    }
    case 'complex':
      return { data: inBase64(selection, value) ? Buffer.from(value.data.toString('base64')) : value.data, mimeType: value.mimeType };
    case 'bbox':
      return { data: Buffer.from(boundingBoxXml(value), 'utf8'), mimeType: 'text/xml' };
  }
}

/**
 * A file output larger than this goes by reference even when asked inline: a document
 * (or the job's result file) cannot carry gigabytes, and the client still gets it.
 */
export const LARGEST_INLINE_FILE = 16 * 1024 * 1024;

/**
 * Writes the outputs asked for by reference to storage; the rest stay inline. A file a
 * handler returned is moved into storage when it is in the run's working directory
 * (copied when storage is another file system, or when the file is not the run's own),
 * never read into memory.
 */
export async function storeOutputs(
  store: OutputStore,
  selections: readonly OutputSelection[],
  values: readonly OutputValue[],
  jobId?: string,
  /** The run's working directory: files in it are moved into storage, others copied. */
  workdir?: string,
  /** Whom a synchronous run's outputs belong to (a job's belong to its row's owner). */
  owner?: string,
): Promise<ProducedOutput[]> {
  const fileOf = (value: OutputValue) => (value instanceof ComplexData ? value.file : undefined);
  const byReference = (selection: OutputSelection, value: OutputValue) =>
    selection.asReference || (fileOf(value) !== undefined && (value as ComplexData).size > LARGEST_INLINE_FILE);
  if (!selections.some((s, i) => byReference(s, values[i]!))) return selections.map((selection, i) => ({ selection, value: values[i]! }));
  let id = jobId;
  if (id === undefined && owner !== undefined) {
    id = randomUUID();
    await store.markOwner(id, owner);
  }
  return Promise.all(
    selections.map(async (selection, i): Promise<ProducedOutput> => {
      const value = values[i]!;
      if (!byReference(selection, value)) return { selection, value };
      id ??= randomUUID();
      // A file goes as it is (never read), unless the client asked for it in base64.
      const file = inBase64(selection, value) ? undefined : fileOf(value);
      const outputId = selection.output.identifier;
      if (file) {
        const move = workdir !== undefined && file.startsWith(`${workdir}/`);
        return { selection, value, href: await store.storeFile(id, outputId, file, (value as ComplexData).mimeType, move) };
      }
      const { data, mimeType } = outputBytes(selection, value);
      return { selection, value, href: await store.writeOutput(id, outputId, data, mimeType) };
    }),
  );
}
