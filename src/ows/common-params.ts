import { invalidParameter, missingParameter, OwsException } from '../exceptions.js';
import { WPS_VERSION } from './namespaces.js';
import { isJobId } from '../job-id.js';
import type { ResponseDocumentForm, ResponseForm, WpsRequest } from './request.js';

/**
 * Checks shared by both encodings, so that KVP and XML give the same answer to the
 * same mistake.
 */

export type Operation = WpsRequest['operation'];
const OPERATIONS: readonly Operation[] = ['GetCapabilities', 'DescribeProcess', 'Execute', 'Dismiss'];
const OPERATION_BY_LOWER_CASE = new Map(OPERATIONS.map((o) => [o.toLowerCase(), o]));

/** A job id as this server makes them (a UUID); anything else names no job. */
export function checkJobId(jobId: string | undefined): string {
  if (jobId === undefined || jobId.trim() === '') throw missingParameter('jobId');
  const id = jobId.trim().toLowerCase();
  if (!isJobId(id)) throw invalidParameter('jobId', `"${jobId.slice(0, 80)}" is not a job id`);
  return id;
}

export function checkService(service: string | undefined): void {
  if (service === undefined || service === '') throw missingParameter('service');
  // ets-wps10 and many clients send service=wps in lower case.
  if (service.toUpperCase() !== 'WPS') throw invalidParameter('service', `Unknown service "${service}"; this is a WPS`);
}

/** Operation names match regardless of case, as in PyWPS; unknown ones name themselves. */
export function operationOf(request: string | undefined): Operation {
  if (request === undefined || request === '') throw missingParameter('request');
  const op = OPERATION_BY_LOWER_CASE.get(request.toLowerCase());
  if (!op) {
    throw new OwsException('OperationNotSupported', `Operation "${request}" is not supported`, request);
  }
  return op;
}

/**
 * DescribeProcess and Execute name the version they speak; only 1.0.0 is spoken here.
 * A missing version means 1.0.0, as in PyWPS: hand-typed URLs often leave it out.
 */
export function checkVersion(version: string | undefined): void {
  if (version !== undefined && version !== '' && version !== WPS_VERSION) {
    throw new OwsException('VersionNegotiationFailed', `Version ${version} is not supported; use ${WPS_VERSION}`, 'version');
  }
}

export function negotiateVersion(acceptVersions: string[] | undefined): void {
  if (acceptVersions === undefined) return;
  if (!acceptVersions.includes(WPS_VERSION)) {
    throw new OwsException(
      'VersionNegotiationFailed',
      `None of the versions ${acceptVersions.join(', ')} is supported; this server speaks ${WPS_VERSION}`,
      'AcceptVersions',
    );
  }
}

/**
 * Matches a requested language tag against the supported ones (tags compare without
 * case, RFC 4646); a bare primary tag such as `en` selects the first supported variant.
 */
export function matchLanguage(requested: string | undefined, supported: readonly string[]): string | undefined {
  if (requested === undefined || requested === '') return undefined;
  const want = requested.toLowerCase();
  const exact = supported.find((s) => s.toLowerCase() === want);
  if (exact) return exact;
  if (!want.includes('-')) {
    const variant = supported.find((s) => s.toLowerCase().split('-')[0] === want);
    if (variant) return variant;
  }
  throw invalidParameter('language', `Language "${requested}" is not supported; supported: ${supported.join(', ')}`);
}

/**
 * DescribeProcess's `ALL`, in any case (birdy asks `identifier=all`, PyWPS answers it);
 * no process may be named so (defineProcess refuses it).
 */
export const isAll = (identifiers: readonly string[]): boolean => identifiers.length === 1 && identifiers[0]!.toUpperCase() === 'ALL';

/** xs:boolean, as WPS attributes and KVP flags are written. */
export function parseBoolean(value: string | undefined, locator: string, fallback = false): boolean {
  if (value === undefined || value === '') return fallback;
  const v = value.trim().toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw invalidParameter(locator, `${locator} must be true or false, not "${value}"`);
}

/** Combinations of the response form that no process can honour. */
export function checkResponseForm(form: ResponseForm): void {
  if (form.kind !== 'document') return;
  const doc: ResponseDocumentForm = form;
  if (doc.status && !doc.storeExecuteResponse) {
    throw invalidParameter('status', 'status=true requires storeExecuteResponse=true');
  }
}
