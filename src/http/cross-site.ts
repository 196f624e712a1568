import type { IncomingMessage } from 'node:http';
import { OwsException } from '../exceptions.js';
import type { WpsRequest } from '../ows/request.js';

/**
 * What a page on another site may make a visitor's browser do here (Fetch Metadata:
 * browsers say where a request comes from in Sec-Fetch-Site; other clients send no
 * such header and are not concerned). Reading is open. Dismiss never comes from
 * another site: an image tag could otherwise end anybody's job whose id it learned.
 * Execute from another site only as a link the visitor follows (a GET navigation):
 * a form or script posting to /wps would run processes in the visitor's name.
 * Same-site pages (another host under the same registrable domain) count as other
 * sites: on a shared domain they are other people's pages.
 */
export function crossSiteRefusal(req: IncomingMessage, request: WpsRequest): OwsException | undefined {
  const site = req.headers['sec-fetch-site'];
  if (site !== 'cross-site' && site !== 'same-site') return undefined;
  const op = request.operation;
  if (op === 'GetCapabilities' || op === 'DescribeProcess') return undefined;
  if (op === 'Execute' && req.method === 'GET' && req.headers['sec-fetch-mode'] === 'navigate') return undefined;
  return new OwsException('NoApplicableCode', `${op} is not accepted from a page on another site`, 'request', 403);
}
