import type { Context } from 'koa';
import type { Metrics } from '../metrics.js';
import { asOwsException, invalidParameter, missingParameter, OwsException } from '../exceptions.js';
import { handleRequest, type OperationContext, type WpsResponse } from '../operations/index.js';
import { XML_CONTENT_TYPE } from '../operations/context.js';
import { exceptionReportXml } from '../ows/exception-report.js';
import { parseKvp } from '../ows/kvp.js';
import type { WpsRequest } from '../ows/request.js';
import { decodeXmlBytes, XmlSyntaxError } from '../ows/xml-reader.js';
import { parseXmlRequest } from '../ows/xml-request.js';
import { readBody } from './read-body.js';

/**
 * The /wps endpoint: a GET is judged by its query string, a POST by its body alone
 * (never falling back to the query), both become one WpsRequest.
 */
export function wpsEndpoint(ops: OperationContext, metrics: Metrics) {
  const { limits, languages } = ops.config;
  return async (ctx: Context): Promise<void> => {
    const started = performance.now();
    let response: WpsResponse;
    let operation = 'unparsed';
    try {
      const request = await parseRequest(ctx);
      operation = request.operation;
      response = await handleRequest(request, ops);
    } catch (err) {
      const ex = asOwsException(err);
      if (!(err instanceof OwsException)) ctx.app.emit('error', err, ctx);
      response = { status: ex.httpStatus, contentType: XML_CONTENT_TYPE, body: exceptionReportXml(ex, languages[0]!) };
      if (ex.httpStatus === 405) response.headers = { allow: 'GET, HEAD, POST' };
    }
    metrics.requests.inc({ operation, code: String(response.status) });
    metrics.requestSeconds.observe({ operation }, (performance.now() - started) / 1000);
    ctx.status = response.status;
    // Verbatim (a raw output's Content-Type is its mimeType, nothing added), and before
    // the body, which then leaves it alone instead of looking up a type of its own.
    ctx.set('content-type', response.contentType);
    ctx.body = response.body;
    if (response.headers) ctx.set(response.headers);
  };

  async function parseRequest(ctx: Context): Promise<WpsRequest> {
    if (ctx.method === 'GET' || ctx.method === 'HEAD') {
      if (ctx.querystring.length > limits.maxQueryLength) {
        throw new OwsException(
          'FileSizeExceeded',
          `The query string is longer than the limit of ${limits.maxQueryLength} bytes; POST large requests as XML`,
          undefined,
          414,
        );
      }
      return parseKvp(ctx.querystring, languages);
    }
    if (ctx.method !== 'POST') {
      throw new OwsException('OperationNotSupported', `HTTP method ${ctx.method} is not supported`, ctx.method, 405);
    }
    const bytes = await readBody(ctx.req, limits.maxRequestSize);
    if (bytes.length === 0 || bytes.toString('latin1').trim() === '') {
      throw missingParameter('request', 'The POST body is empty: send a WPS request as XML');
    }
    let text: string;
    try {
      text = decodeXmlBytes(bytes);
    } catch (err) {
      if (err instanceof XmlSyntaxError) throw invalidParameter('request', err.message);
      throw err;
    }
    return parseXmlRequest(text, languages, limits.maxXmlDepth);
  }
}
