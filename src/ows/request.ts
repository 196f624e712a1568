import type { OutputAsk } from '../process/outputs.js';

/**
 * The one typed request model. KVP GET and XML POST both parse into a `WpsRequest`;
 * operation handlers never learn which encoding a request arrived in.
 */

export type WpsRequest = GetCapabilitiesRequest | DescribeProcessRequest | ExecuteRequest | DismissRequest;

interface BaseRequest {
  /** Language asked for, already matched against the supported ones; undefined = default. */
  language: string | undefined;
}

export interface GetCapabilitiesRequest extends BaseRequest {
  operation: 'GetCapabilities';
  acceptVersions: string[] | undefined;
  /** The updateSequence the client holds (OWS Common 1.1, 7.3.4), as sent. */
  updateSequence: string | undefined;
}

export interface DescribeProcessRequest extends BaseRequest {
  operation: 'DescribeProcess';
  /** Process identifiers in request order, or 'ALL'. */
  identifiers: string[] | 'ALL';
}

export interface ExecuteRequest extends BaseRequest {
  operation: 'Execute';
  identifier: string;
  inputs: InputSubmission[];
  responseForm: ResponseForm;
  /** Where to tell of the job's progress and end (OGC API's subscriber; WPS has none). */
  subscriber?: Subscriber;
  /** An OGC API job asked for its one output as it is (`response: raw`): its results answer that. */
  rawResults?: true;
}

/** URLs a job's news is posted to. */
export interface Subscriber {
  successUri?: string;
  inProgressUri?: string;
  failedUri?: string;
}

/** WPS 2.0's Dismiss, offered by this server as an extension of 1.0.0. */
export interface DismissRequest extends BaseRequest {
  operation: 'Dismiss';
  jobId: string;
}

export interface InputSubmission {
  identifier: string;
  title?: string;
  abstract?: string;
  data: SubmittedData;
}

export type SubmittedData = LiteralSubmission | ComplexSubmission | BoundingBoxSubmission | ReferenceSubmission;

export interface LiteralSubmission {
  kind: 'literal';
  value: string;
  dataType?: string;
  uom?: string;
}

export interface ComplexSubmission {
  kind: 'complex';
  /** Text, or serialized XML; base64 text when `encoding` is base64. */
  value: string;
  /** True when the value came as XML elements (it is then serialized markup). */
  xml: boolean;
  mimeType?: string;
  encoding?: string;
  schema?: string;
}

export interface BoundingBoxSubmission {
  kind: 'bbox';
  lowerCorner: number[];
  upperCorner: number[];
  crs?: string;
  dimensions?: number;
}

export interface ReferenceSubmission {
  kind: 'reference';
  href: string;
  method: 'GET' | 'POST';
  headers: { key: string; value: string }[];
  body?: string;
  bodyReference?: string;
  mimeType?: string;
  encoding?: string;
  schema?: string;
}

/** What a request asks of one output (the process layer's own shape). */
export type OutputRequest = OutputAsk;

export type ResponseForm = ResponseDocumentForm | RawDataOutputForm;

export interface ResponseDocumentForm {
  kind: 'document';
  /** Outputs asked for; empty means all outputs, each as the process defaults. */
  outputs: OutputRequest[];
  storeExecuteResponse: boolean;
  lineage: boolean;
  status: boolean;
}

export interface RawDataOutputForm {
  kind: 'raw';
  output: OutputRequest;
}

export const defaultResponseForm = (): ResponseDocumentForm => ({
  kind: 'document',
  outputs: [],
  storeExecuteResponse: false,
  lineage: false,
  status: false,
});
