import type { WpsRequest } from '../ows/request.js';
import type { OperationContext, WpsResponse } from './context.js';
import { describeProcess } from './describe-process.js';
import { dismiss } from './dismiss.js';
import { execute } from './execute.js';
import { getCapabilities } from './get-capabilities.js';

export type { OperationContext, WpsResponse } from './context.js';

/** A promise only where the operation waits for something (Execute, Dismiss). */
export function handleRequest(req: WpsRequest, ctx: OperationContext): WpsResponse | Promise<WpsResponse> {
  switch (req.operation) {
    case 'GetCapabilities':
      return getCapabilities(req, ctx);
    case 'DescribeProcess':
      return describeProcess(req, ctx);
    case 'Execute':
      return execute(req, ctx);
    case 'Dismiss':
      return dismiss(req, ctx);
  }
}
