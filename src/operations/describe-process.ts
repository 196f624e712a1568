import type { Caller } from '../auth/caller.js';
import { invalidParameter } from '../exceptions.js';
import { clip } from '../process/formats.js';
import { processDescriptionsXml } from '../ows/process-description.js';
import type { DescribeProcessRequest } from '../ows/request.js';
import type { ProcessDefinition } from '../process/types.js';
import { languageOf, xmlResponse, type OperationContext, type WpsResponse } from './context.js';

const MAX_CACHED = 512;

/** Documents by language: one process (found by the object, no key to build), all, or a list. */
interface Documents {
  one: Map<ProcessDefinition, Buffer>;
  all?: Buffer;
  lists: Map<string, Buffer>;
}
const cache = new WeakMap<OperationContext, Map<string, Documents>>();

export function describeProcess(req: DescribeProcessRequest, ctx: OperationContext, caller: Caller): WpsResponse {
  const language = languageOf(ctx, req.language);
  let byLanguage = cache.get(ctx);
  if (!byLanguage) cache.set(ctx, (byLanguage = new Map()));
  let docs = byLanguage.get(language);
  if (!docs) byLanguage.set(language, (docs = { one: new Map(), lists: new Map() }));
  const write = (processes: readonly ProcessDefinition[]) => Buffer.from(processDescriptionsXml(processes, language));
  if (req.identifiers === 'ALL') {
    const visible = ctx.registry.visibleTo(caller);
    if (visible !== ctx.registry.all()) return xmlResponse(list(docs, visible, write));
    return xmlResponse((docs.all ??= write(visible)));
  }
  // Each process once, in the order first asked: a request naming one process many
  // times gets one description, so the answer is never larger than DescribeProcess ALL.
  const processes = [...new Set(req.identifiers)].map((id) => {
    // A process the caller may not use is answered like one that does not exist.
    const p = ctx.registry.getFor(id, caller);
    if (!p) throw invalidParameter('identifier', `No process with identifier "${clip(id)}"`);
    return p;
  });
  if (processes.length === 1) {
    let xml = docs.one.get(processes[0]!);
    if (xml === undefined) docs.one.set(processes[0]!, (xml = write(processes)));
    return xmlResponse(xml);
  }
  return xmlResponse(list(docs, processes, write));
}

function list(docs: Documents, processes: readonly ProcessDefinition[], write: (processes: readonly ProcessDefinition[]) => Buffer): Buffer {
  const key = processes.map((p) => p.identifier).join(',');
  let xml = docs.lists.get(key);
  if (xml === undefined) {
    xml = write(processes);
    // Identifier combinations are unbounded; start over rather than grow without limit.
    if (docs.lists.size >= MAX_CACHED) docs.lists.clear();
    docs.lists.set(key, xml);
  }
  return xml;
}
