import { invalidParameter } from '../exceptions.js';
import { processDescriptionsXml } from '../ows/process-description.js';
import type { DescribeProcessRequest } from '../ows/request.js';
import { languageOf, xmlResponse, type OperationContext, type WpsResponse } from './context.js';

const MAX_CACHED = 512;
const cache = new WeakMap<OperationContext, Map<string, Buffer>>();

export function describeProcess(req: DescribeProcessRequest, ctx: OperationContext): WpsResponse {
  const processes =
    req.identifiers === 'ALL'
      ? ctx.registry.all()
      : req.identifiers.map((id) => {
          const p = ctx.registry.get(id);
          if (!p) throw invalidParameter('identifier', `No process with identifier "${id}"`);
          return p;
        });
  const language = languageOf(ctx, req.language);
  let docs = cache.get(ctx);
  if (!docs) cache.set(ctx, (docs = new Map()));
  const key = processes.length === 1 ? `${language}\n${processes[0]!.identifier}` : `${language}\n${processes.map((p) => p.identifier).join(',')}`;
  let xml = docs.get(key);
  if (xml === undefined) {
    xml = Buffer.from(processDescriptionsXml(processes, language));
    // Identifier combinations are unbounded; start over rather than grow without limit.
    if (docs.size >= MAX_CACHED) docs.clear();
    docs.set(key, xml);
  }
  return xmlResponse(xml);
}
