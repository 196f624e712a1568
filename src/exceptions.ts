/**
 * The OWS / WPS 1.0.0 exception vocabulary shared by every part of the server.
 * Rendering an exception as XML is the job of `ows/exception-report.ts`.
 */

export type ExceptionCode =
  | 'MissingParameterValue'
  | 'InvalidParameterValue'
  | 'NoApplicableCode'
  | 'VersionNegotiationFailed'
  | 'OperationNotSupported'
  | 'OptionNotSupported'
  | 'ServerBusy'
  | 'FileSizeExceeded'
  | 'NotEnoughStorage'
  | 'StorageNotSupported'
  | 'InvalidUpdateSequence';

/**
 * HTTP status per exception code. OWS Common 1.1 (06-121r9, 8.6) fixes the first five and
 * InvalidUpdateSequence;
 * the WPS-specific ones take the HTTP status that names the same condition, so that
 * proxies and generic HTTP clients react sensibly (retry on 503, no retry on 413).
 */
export const HTTP_STATUS: Readonly<Record<ExceptionCode, number>> = {
  MissingParameterValue: 400,
  InvalidParameterValue: 400,
  VersionNegotiationFailed: 400,
  OperationNotSupported: 501,
  OptionNotSupported: 501,
  NoApplicableCode: 500,
  ServerBusy: 503,
  FileSizeExceeded: 413,
  NotEnoughStorage: 507,
  StorageNotSupported: 400,
  InvalidUpdateSequence: 400,
};

export class OwsException extends Error {
  readonly code: ExceptionCode;
  readonly locator: string | undefined;
  /** HTTP status, when the transport names the problem better than the code's default. */
  readonly httpStatus: number;

  constructor(code: ExceptionCode, message: string, locator?: string, httpStatus?: number) {
    // An answer for the client, not a fault of the server: its stack is never shown, and
    // capturing one took 3 % of the server's time while a flood was refused with ServerBusy.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.name = code;
    this.code = code;
    this.locator = locator === '' ? undefined : locator;
    this.httpStatus = httpStatus ?? HTTP_STATUS[code];
  }
}

export const missingParameter = (locator: string, message?: string): OwsException =>
  new OwsException('MissingParameterValue', message ?? `Missing parameter value: ${locator}`, locator);

export const invalidParameter = (locator: string, message: string): OwsException =>
  new OwsException('InvalidParameterValue', message, locator);

/** Anything thrown that is not an OwsException becomes NoApplicableCode without internals. */
export function asOwsException(err: unknown): OwsException {
  if (err instanceof OwsException) return err;
  return new OwsException('NoApplicableCode', 'Internal server error');
}
