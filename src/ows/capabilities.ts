import type { ServiceMetadata } from '../config.js';
import type { ProcessDefinition } from '../process/types.js';
import { describe, serialize, startDocument, type ElementWriter } from './document.js';
import { NS, SCHEMA_LOCATION, WPS_VERSION } from './namespaces.js';

export interface CapabilitiesInput {
  metadata: ServiceMetadata;
  processes: readonly ProcessDefinition[];
  /** The WPS endpoint URL as clients reach it. */
  endpoint: string;
  languages: readonly string[];
  language: string;
  /** Grows whenever the offered documents change (see operations/get-capabilities.ts). */
  updateSequence?: string;
}

// Dismiss is WPS 2.0's operation, offered here as an extension (clients ignore unknown operations).
const OPERATIONS = ['GetCapabilities', 'DescribeProcess', 'Execute', 'Dismiss'] as const;

export function capabilitiesXml(input: CapabilitiesInput): string {
  const root = startDocument(NS.wps, 'wps:Capabilities', ['wps', 'ows', 'xlink'], SCHEMA_LOCATION.capabilities)
    .att('service', 'WPS')
    .att('version', WPS_VERSION)
    .att(NS.xml, 'xml:lang', input.language);
  if (input.updateSequence !== undefined) root.att('updateSequence', input.updateSequence);
  serviceIdentification(root, input.metadata);
  serviceProvider(root, input.metadata);
  operationsMetadata(root, input.endpoint);
  const offerings = root.ele(NS.wps, 'wps:ProcessOfferings');
  for (const p of input.processes) {
    const el = offerings.ele(NS.wps, 'wps:Process').att(NS.wps, 'wps:processVersion', p.version);
    describe(el, p);
  }
  const languages = root.ele(NS.wps, 'wps:Languages');
  languages.ele(NS.wps, 'wps:Default').ele(NS.ows, 'ows:Language').txt(input.languages[0]!);
  const supported = languages.ele(NS.wps, 'wps:Supported');
  for (const l of input.languages) supported.ele(NS.ows, 'ows:Language').txt(l);
  return serialize(root);
}

function serviceIdentification(root: ElementWriter, m: ServiceMetadata): void {
  const si = root.ele(NS.ows, 'ows:ServiceIdentification');
  si.ele(NS.ows, 'ows:Title').txt(m.title);
  if (m.abstract) si.ele(NS.ows, 'ows:Abstract').txt(m.abstract);
  if (m.keywords.length > 0) {
    const kw = si.ele(NS.ows, 'ows:Keywords');
    for (const k of m.keywords) kw.ele(NS.ows, 'ows:Keyword').txt(k);
  }
  si.ele(NS.ows, 'ows:ServiceType').txt('WPS');
  si.ele(NS.ows, 'ows:ServiceTypeVersion').txt(WPS_VERSION);
  if (m.fees) si.ele(NS.ows, 'ows:Fees').txt(m.fees);
  for (const c of m.accessConstraints) si.ele(NS.ows, 'ows:AccessConstraints').txt(c);
}

function serviceProvider(root: ElementWriter, m: ServiceMetadata): void {
  const sp = root.ele(NS.ows, 'ows:ServiceProvider');
  sp.ele(NS.ows, 'ows:ProviderName').txt(m.provider.name);
  if (m.provider.site) sp.ele(NS.ows, 'ows:ProviderSite').att(NS.xlink, 'xlink:href', m.provider.site);
  const c = m.contact;
  const contact = sp.ele(NS.ows, 'ows:ServiceContact');
  const opt = (parent: ElementWriter, name: string, value: string | undefined) => {
    if (value) parent.ele(NS.ows, `ows:${name}`).txt(value);
  };
  opt(contact, 'IndividualName', c.individualName);
  opt(contact, 'PositionName', c.positionName);
  const hasPhone = c.phone || c.facsimile;
  const hasAddress = c.deliveryPoint || c.city || c.administrativeArea || c.postalCode || c.country || c.email;
  if (hasPhone || hasAddress || c.url || c.hoursOfService || c.contactInstructions) {
    const info = contact.ele(NS.ows, 'ows:ContactInfo');
    if (hasPhone) {
      const phone = info.ele(NS.ows, 'ows:Phone');
      opt(phone, 'Voice', c.phone);
      opt(phone, 'Facsimile', c.facsimile);
    }
    if (hasAddress) {
      const addr = info.ele(NS.ows, 'ows:Address');
      opt(addr, 'DeliveryPoint', c.deliveryPoint);
      opt(addr, 'City', c.city);
      opt(addr, 'AdministrativeArea', c.administrativeArea);
      opt(addr, 'PostalCode', c.postalCode);
      opt(addr, 'Country', c.country);
      opt(addr, 'ElectronicMailAddress', c.email);
    }
    if (c.url) info.ele(NS.ows, 'ows:OnlineResource').att(NS.xlink, 'xlink:href', c.url);
    opt(info, 'HoursOfService', c.hoursOfService);
    opt(info, 'ContactInstructions', c.contactInstructions);
  }
  if (c.role) contact.ele(NS.ows, 'ows:Role').txt(c.role);
}

/**
 * One Get and one Post URL per operation and no `version` parameter: the CITE scripts
 * join repeated values with spaces and then fail on them.
 */
function operationsMetadata(root: ElementWriter, endpoint: string): void {
  const om = root.ele(NS.ows, 'ows:OperationsMetadata');
  for (const name of OPERATIONS) {
    const http = om.ele(NS.ows, 'ows:Operation').att('name', name).ele(NS.ows, 'ows:DCP').ele(NS.ows, 'ows:HTTP');
    http.ele(NS.ows, 'ows:Get').att(NS.xlink, 'xlink:href', `${endpoint}?`);
    http.ele(NS.ows, 'ows:Post').att(NS.xlink, 'xlink:href', endpoint);
  }
}
