import type { Link } from './process-description.js';

/** The conformance classes of OGC API - Processes - Part 1 this server implements. */
const CLASS = (name: string) => `http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/${name}`;

export const CONFORMANCE = ['core', 'ogc-process-description', 'json', 'html', 'oas30', 'job-list', 'callback', 'dismiss'].map(CLASS);

export function landingPage(title: string, description: string, base: string): { title: string; description: string; links: Link[] } {
  return {
    title,
    description,
    links: [
      { href: `${base}/`, rel: 'self', type: 'application/json', title: 'this document' },
      { href: `${base}/api`, rel: 'service-desc', type: 'application/vnd.oai.openapi+json;version=3.0', title: 'the API definition' },
      { href: `${base}/api?f=html`, rel: 'service-doc', type: 'text/html', title: 'the API definition, as a page' },
      { href: `${base}/conformance`, rel: 'http://www.opengis.net/def/rel/ogc/1.0/conformance', type: 'application/json', title: 'conformance classes' },
      { href: `${base}/processes`, rel: 'http://www.opengis.net/def/rel/ogc/1.0/processes', type: 'application/json', title: 'the processes' },
      { href: `${base}/jobs`, rel: 'http://www.opengis.net/def/rel/ogc/1.0/job-list', type: 'application/json', title: 'the jobs' },
      { href: `${base}/wps?service=WPS&request=GetCapabilities`, rel: 'alternate', type: 'text/xml', title: 'the same processes over WPS 1.0.0' },
    ],
  };
}
