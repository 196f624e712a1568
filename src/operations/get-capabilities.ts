import { capabilitiesXml } from '../ows/capabilities.js';
import type { GetCapabilitiesRequest } from '../ows/request.js';
import { languageOf, xmlResponse, type OperationContext, type WpsResponse } from './context.js';

// The document depends only on configuration and the registry, both fixed at start-up;
// kept as bytes, so a request costs no encoding.
const cache = new WeakMap<OperationContext, Map<string, Buffer>>();

export function getCapabilities(req: GetCapabilitiesRequest, ctx: OperationContext): WpsResponse {
  const language = languageOf(ctx, req.language);
  let byLanguage = cache.get(ctx);
  if (!byLanguage) cache.set(ctx, (byLanguage = new Map()));
  let xml = byLanguage.get(language);
  if (xml === undefined) {
    xml = Buffer.from(capabilitiesXml({
      metadata: ctx.config.metadata,
      processes: ctx.registry.all(),
      endpoint: ctx.endpoint,
      languages: ctx.config.languages,
      language,
    }));
    byLanguage.set(language, xml);
  }
  return xmlResponse(xml);
}
