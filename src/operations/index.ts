import type { WpsRequest } from '../ows/request.js';
import type { OperationContext, WpsResponse } from './context.js';
import { describeProcess } from './describe-process.js';
import { dismiss } from './dismiss.js';
import { execute } from './execute.js';
import { getCapabilities } from './get-capabilities.js';

export type { OperationContext, WpsResponse } from './context.js';

export async function handleRequest(req: WpsRequest, ctx: OperationContext): Promise<WpsResponse> {
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
