import type { Caller } from '../auth/caller.js';
import type { WpsRequest } from '../ows/request.js';
import type { OperationContext, WpsResponse } from './context.js';
import { describeProcess } from './describe-process.js';
import { dismiss } from './dismiss.js';
import { execute } from './execute.js';
import { getCapabilities } from './get-capabilities.js';

export type { OperationContext, WpsResponse } from './context.js';

/**
 * A promise only where the operation waits for something (Execute, Dismiss). `caller`
 * decides which processes exist for the request and whose jobs it may touch.
 */
export function handleRequest(req: WpsRequest, ctx: OperationContext, caller: Caller): WpsResponse | Promise<WpsResponse> {
  switch (req.operation) {
    case 'GetCapabilities':
      return getCapabilities(req, ctx, caller);
    case 'DescribeProcess':
      return describeProcess(req, ctx, caller);
    case 'Execute':
      return execute(req, ctx, caller);
    case 'Dismiss':
      return dismiss(req, ctx, caller);
  }
}
