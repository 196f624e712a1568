import { createHash } from 'node:crypto';
import type { Config } from '../config.js';
import type { Caller } from '../auth/caller.js';
import { OwsException } from '../exceptions.js';
import { capabilitiesXml } from '../ows/capabilities.js';
import { processDescriptionsXml } from '../ows/process-description.js';
import type { GetCapabilitiesRequest } from '../ows/request.js';
import { clip } from '../process/formats.js';
import type { ProcessRegistry } from '../process/registry.js';
import { languageOf, xmlResponse, XML_CONTENT_TYPE, type OperationContext, type WpsResponse } from './context.js';

// The document depends only on configuration and the registry, both fixed at start-up;
// kept as bytes, so a request costs no encoding.
const cache = new WeakMap<OperationContext, Map<string, Buffer>>();

/**
 * OWS Common 1.1, 7.3.4: the sequence the client holds decides the answer. Its current
 * value gets 304 Not Modified: OWS's document with only version and updateSequence would
 * not be valid WPS 1.0.0 (ProcessOfferings and Languages are required), and 304 says the
 * same in HTTP's words. A later one is InvalidUpdateSequence; an earlier or unreadable one
 * gets the whole document.
 */
export function getCapabilities(req: GetCapabilitiesRequest, ctx: OperationContext, caller: Caller): WpsResponse {
  const held = req.updateSequence === undefined || !/^\d{1,30}$/.test(req.updateSequence) ? undefined : BigInt(req.updateSequence);
  if (held !== undefined) {
    const current = BigInt(ctx.updateSequence);
    if (held === current) return { status: 304, contentType: XML_CONTENT_TYPE, body: '' };
    if (held > current) {
      throw new OwsException(
        'InvalidUpdateSequence',
        `updateSequence ${clip(req.updateSequence!)} is later than this server's, ${ctx.updateSequence}`,
        'updateSequence',
      );
    }
  }
  const language = languageOf(ctx, req.language);
  const processes = ctx.registry.visibleTo(caller);
  // One document per language and set of visible processes (few: they follow the access rules).
  const key = processes === ctx.registry.all() ? language : `${language} ${processes.map((p) => p.identifier).join(',')}`;
  let documents = cache.get(ctx);
  if (!documents) cache.set(ctx, (documents = new Map()));
  let xml = documents.get(key);
  if (xml === undefined) {
    xml = Buffer.from(capabilitiesXml({ ...documentInput(ctx, language), processes, updateSequence: ctx.updateSequence }));
    if (documents.size >= MAX_CACHED) documents.clear();
    documents.set(key, xml);
  }
  return xmlResponse(xml);
}

const MAX_CACHED = 256;

type Offering = Pick<OperationContext, 'config' | 'registry' | 'endpoint'>;

const documentInput = (ctx: Offering, language: string) => ({
  metadata: ctx.config.metadata,
  processes: ctx.registry.all(),
  endpoint: ctx.endpoint,
  languages: ctx.config.languages,
  language,
});

/**
 * Names what this server offers: its capabilities and every process description, in
 * every language, and who may see each process. Another digest means another
 * updateSequence (jobs/offerings.ts).
 */
export function offeringDigest(config: Config, registry: ProcessRegistry, endpoint: string): string {
  const hash = createHash('sha256');
  // Who may see which process changes what callers are offered, too.
  const configured = config.auth?.processes ?? {};
  hash.update(JSON.stringify(registry.all().map((p) => [p.identifier, (Object.hasOwn(configured, p.identifier) ? configured[p.identifier] : p.access) ?? null])));
  for (const language of config.languages) {
    hash.update(capabilitiesXml(documentInput({ config, registry, endpoint }, language)));
    hash.update(processDescriptionsXml(registry.all(), language));
  }
  return hash.digest('base64url');
}
