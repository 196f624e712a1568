/**
 * The API for process authors: what a process package imports from `wps-scheduler`.
 *
 * ```js
 * import { defineProcess, literalInput, literalOutput, ProcessError } from 'wps-scheduler';
 * export default defineProcess({ identifier: 'hello', title: 'Say hello', inputs: [...], outputs: [...], handler });
 * ```
 *
 * A package is offered by naming it in the server's `processes` setting (`WPS_PROCESSES`).
 */
export {
  boundingBoxInput,
  boundingBoxOutput,
  complexInput,
  complexOutput,
  defineProcess,
  literalInput,
  literalOutput,
} from './process/declare.js';
export { Inputs, ProcessError } from './process/types.js';
/** An interactive session as a process: its job starts an application behind the server's proxy. */
export { defineSession } from './sessions/declare.js';
export type { SessionDeclaration } from './sessions/declare.js';
export type {
  AllowedValue,
  BoundingBox,
  BoundingBoxInput,
  BoundingBoxOutput,
  BoundingBoxResult,
  BoundingBoxValue,
  ComplexInput,
  ComplexOutput,
  ComplexResult,
  ComplexValue,
  Format,
  InputDescription,
  InputValue,
  LiteralInput,
  LiteralOutput,
  LiteralResult,
  LiteralValue,
  MetadataLink,
  OutputDescription,
  OutputResults,
  ProcessContext,
  ProcessDefinition,
  ProcessResources,
  ValueRange,
} from './process/types.js';
export type { LiteralDataType, LiteralJsValue } from './process/literal-types.js';
