import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { validateHeaderName, validateHeaderValue } from 'node:http';
import { join } from 'node:path';
import { invalidParameter, OwsException } from '../exceptions.js';
import type { AddressPolicy } from '../inout/address-policy.js';
import { fetchReference, type FetchOptions, type Fetched } from '../inout/fetch-reference.js';
import type { WorkdirOf } from '../process/complex-data.js';
import type { InputSubmission, ReferenceSubmission } from '../ows/request.js';
import { clip } from '../process/formats.js';
import { validateInputs, type RawInput, type RawInputEntry } from '../process/validate-inputs.js';
import type { InputDescription, ProcessDefinition } from '../process/types.js';
import type { BudgetLease } from './byte-budget.js';

export interface ReferenceLimits {
  /** References (a POST reference's BodyReference counts too) one request may give. */
  maxReferences: number;
  /** Bytes all of one request's references may add up to. */
  maxFetchedBytes: number;
}

export interface ResolveOptions extends ReferenceLimits {
  policy: AddressPolicy;
  timeoutMs: number;
  maxInputSize: number;
  /** The server's share of memory for requests in progress (synchronous runs only). */
  lease?: BudgetLease;
  /** A job's working directory: its complex inputs by reference are fetched into files there. */
  workdir?: WorkdirOf;
  signal?: AbortSignal;
}

/** References fetched at once for one request. */
const FETCHES_AT_ONCE = 4;

/**
 * Turns submitted inputs into raw values for validation: data given by value passes
 * through, references are fetched under the address policy and limits. Everything that
 * needs no download is checked first (identifiers, occurrences, formats, headers, the
 * number of references), so a request that would be refused costs no fetch; then at
 * most FETCHES_AT_ONCE run at a time, and the first failure stops the rest.
 */
export async function resolveInputs(
  process: ProcessDefinition,
  submissions: readonly InputSubmission[],
  opts: ResolveOptions,
): Promise<RawInputEntry[]> {
  // Nothing to fetch (the usual case): no promise per input.
  if (!submissions.some((s) => s.data.kind === 'reference')) {
    return submissions.map((s) => ({ identifier: s.identifier, data: s.data as RawInput }));
  }
  checkInputsBeforeFetching(process, submissions, opts);
  const declared = new Map(process.inputs.map((i) => [i.identifier, i]));
  const controller = new AbortController();
  const signal = opts.signal ? AbortSignal.any([controller.signal, opts.signal]) : controller.signal;
  let fetched = 0;
  const perRequest = opts.maxFetchedBytes;
  const onBytes = (n: number): void => {
    fetched += n;
    if (fetched > perRequest) {
      throw new OwsException('FileSizeExceeded', `The inputs given by reference add up to more than ${perRequest} bytes`, 'DataInputs');
    }
    opts.lease?.take(n);
  };
  const common = { policy: opts.policy, timeoutMs: opts.timeoutMs, signal, onBytes };

  const entries: RawInputEntry[] = submissions.map((s) => ({ identifier: s.identifier, data: s.data as RawInput }));
  const pending = submissions.flatMap((s, i) => (s.data.kind === 'reference' ? [i] : []));
  let failure: unknown;
  const worker = async () => {
    for (let i = pending.shift(); i !== undefined && failure === undefined; i = pending.shift()) {
      const s = submissions[i]!;
      try {
        entries[i]!.data = await fetchInput(declared.get(s.identifier)!, s.data as ReferenceSubmission, opts, common);
      } catch (err) {
        if (failure === undefined) failure = err;
        controller.abort(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(FETCHES_AT_ONCE, pending.length) }, worker));
  if (failure !== undefined) throw failure;
  return entries;
}

/**
 * Checks what can be checked before anything is fetched or a job is accepted:
 * identifiers, occurrences, every value given inline, the formats and headers of
 * references, and how many there are. A reference's value is checked once fetched.
 */
export function checkInputsBeforeFetching(
  process: ProcessDefinition,
  submissions: readonly InputSubmission[],
  limits: ReferenceLimits,
): void {
  let references = 0;
  validateInputs(
    process,
    submissions.map((s) => {
      const d = s.data;
      if (d.kind !== 'reference') return { identifier: s.identifier, data: d };
      references += d.bodyReference !== undefined && d.body === undefined ? 2 : 1;
      checkHeaders(s.identifier, d);
      const pending: RawInput = { kind: 'pending' };
      if (d.mimeType) pending.mimeType = d.mimeType;
      if (d.encoding) pending.encoding = d.encoding;
      if (d.schema) pending.schema = d.schema;
      return { identifier: s.identifier, data: pending };
    }),
  );
  if (references > limits.maxReferences) {
    throw invalidParameter('DataInputs', `The request gives ${references} references; at most ${limits.maxReferences} are fetched for one request`);
  }
}

/** Header names and values HTTP cannot carry are refused here rather than failing the fetch later. */
function checkHeaders(id: string, ref: ReferenceSubmission): void {
  for (const h of ref.headers) {
    try {
      validateHeaderName(h.key);
      validateHeaderValue(h.key, h.value);
    } catch {
      throw invalidParameter(id, `Input ${id}: "${clip(h.key)}" with its value is not a valid HTTP header`);
    }
  }
}

type Common = Pick<FetchOptions, 'policy' | 'timeoutMs' | 'signal' | 'onBytes'>;

const inMemory = (fetched: Fetched): Buffer => ('bytes' in fetched ? fetched.bytes : readFileSync(fetched.file));

async function fetchInput(input: InputDescription, ref: ReferenceSubmission, opts: ResolveOptions, common: Common): Promise<RawInput> {
  const id = input.identifier;
  const declaredLimit = input.type === 'complex' && input.maximumMegabytes !== undefined
    ? input.maximumMegabytes * 1024 * 1024
    : Infinity;
  const each = { ...common, maxBytes: Math.min(opts.maxInputSize, declaredLimit), locator: id };
  let body: string | Buffer | undefined = ref.body;
  if (ref.method === 'POST' && body === undefined && ref.bodyReference) {
    body = inMemory(await fetchReference(ref.bodyReference, each));
  }
  // A job's complex input goes straight into a file of its working directory.
  const workdir = opts.workdir;
  const saveTo = workdir && input.type === 'complex' ? () => join(workdir(), `input-${id}-${randomBytes(4).toString('hex')}`) : undefined;
  const fetched = await fetchReference(ref.href, {
    ...each,
    method: ref.method,
    headers: ref.headers,
    ...(body !== undefined ? { body } : {}),
    ...(saveTo ? { saveTo } : {}),
  });
  if (input.type === 'literal') return { kind: 'literal', value: inMemory(fetched).toString('utf8') };
  const raw: RawInput = { kind: 'complex', value: 'file' in fetched ? { file: fetched.file } : fetched.bytes };
  if (ref.mimeType) raw.mimeType = ref.mimeType;
  if (ref.encoding) raw.encoding = ref.encoding;
  if (ref.schema) raw.schema = ref.schema;
  return raw;
}
