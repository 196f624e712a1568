import { invalidParameter } from '../exceptions.js';
import { fetchReference } from '../inout/fetch-reference.js';
import type { AddressPolicy } from '../inout/address-policy.js';
import type { InputSubmission, ReferenceSubmission } from '../ows/request.js';
import { validateInputs, type RawInput, type RawInputEntry } from '../process/validate-inputs.js';
import type { InputDescription, ProcessDefinition } from '../process/types.js';

export interface ResolveOptions {
  policy: AddressPolicy;
  timeoutMs: number;
  maxInputSize: number;
  signal?: AbortSignal;
}

/**
 * Turns submitted inputs into raw values for validation: data given by value passes
 * through, references are fetched (in parallel) under the address policy and limits.
 * Unknown identifiers are refused before anything is fetched.
 */
export async function resolveInputs(
  process: ProcessDefinition,
  submissions: readonly InputSubmission[],
  opts: ResolveOptions,
): Promise<RawInputEntry[]> {
  const declared = (s: InputSubmission) => process.inputs.find((i) => i.identifier === s.identifier);
  for (const s of submissions) {
    if (!declared(s)) throw invalidParameter(s.identifier, `Process ${process.identifier} has no input ${s.identifier}`);
  }
  // Nothing to fetch (the usual case): no promise per input.
  const byValue: RawInputEntry[] = [];
  for (const s of submissions) {
    if (s.data.kind === 'reference') break;
    byValue.push({ identifier: s.identifier, data: s.data });
  }
  if (byValue.length === submissions.length) return byValue;
  return Promise.all(
    submissions.map(async (s): Promise<RawInputEntry> => {
      const d = s.data;
      if (d.kind !== 'reference') return { identifier: s.identifier, data: d };
      return { identifier: s.identifier, data: await fetchInput(declared(s)!, d, opts) };
    }),
  );
}

/**
 * Checks what can be checked before a job is accepted: identifiers, occurrences and
 * every value given inline. References are fetched later, by the runner.
 */
export function checkInputsBeforeFetching(process: ProcessDefinition, submissions: readonly InputSubmission[]): void {
  validateInputs(
    process,
    submissions.map((s) => ({ identifier: s.identifier, data: s.data.kind === 'reference' ? { kind: 'pending' } : s.data })),
  );
}

async function fetchInput(input: InputDescription, ref: ReferenceSubmission, opts: ResolveOptions): Promise<RawInput> {
  const id = input.identifier;
  if (input.type === 'bbox') throw invalidParameter(id, `Input ${id}: a bounding box cannot be given by reference`);
  const declaredLimit = input.type === 'complex' && input.maximumMegabytes !== undefined
    ? input.maximumMegabytes * 1024 * 1024
    : Infinity;
  const common = {
    policy: opts.policy,
    timeoutMs: opts.timeoutMs,
    maxBytes: Math.min(opts.maxInputSize, declaredLimit),
    locator: id,
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
  let body: string | Buffer | undefined = ref.body;
  if (ref.method === 'POST' && body === undefined && ref.bodyReference) {
    body = (await fetchReference(ref.bodyReference, common)).bytes;
  }
  const fetched = await fetchReference(ref.href, {
    ...common,
    method: ref.method,
    headers: ref.headers,
    ...(body !== undefined ? { body } : {}),
  });
  if (input.type === 'literal') return { kind: 'literal', value: fetched.bytes.toString('utf8') };
  const raw: RawInput = { kind: 'complex', value: fetched.bytes };
  if (ref.mimeType) raw.mimeType = ref.mimeType;
  if (ref.encoding) raw.encoding = ref.encoding;
  if (ref.schema) raw.schema = ref.schema;
  return raw;
}
