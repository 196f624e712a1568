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
 *
 * A GET whose answer is ready at once (GetCapabilities, DescribeProcess, a refusal) is
 * answered without a promise: awaiting one per step cost about 3 µs a request here,
 * a tenth of answering GetCapabilities.
 */
export function wpsEndpoint(ops: OperationContext, metrics: Metrics) {
  const { limits, languages } = ops.config;

  return (ctx: Context): Promise<void> | undefined => {
    const started = performance.now();
    let request: WpsRequest | Promise<WpsRequest>;
    try {
      request = ctx.method === 'POST' ? parsePost(ctx) : parseGet(ctx);
    } catch (err) {
      return send(ctx, started, 'unparsed', failure(ctx, err));
    }
    if (request instanceof Promise) {
      return request.then(
        (r) => answer(ctx, started, r),
        (err: unknown) => send(ctx, started, 'unparsed', failure(ctx, err)),
      );
    }
    return answer(ctx, started, request);
  };

  function answer(ctx: Context, started: number, request: WpsRequest): Promise<void> | undefined {
    let response: WpsResponse | Promise<WpsResponse>;
    try {
      response = handleRequest(request, ops);
    } catch (err) {
      return send(ctx, started, request.operation, failure(ctx, err));
    }
    if (response instanceof Promise) {
      return response.then(
        (r) => send(ctx, started, request.operation, r),
        (err: unknown) => send(ctx, started, request.operation, failure(ctx, err)),
      );
    }
    return send(ctx, started, request.operation, response);
  }

  function send(ctx: Context, started: number, operation: string, response: WpsResponse): undefined {
    metrics.requests.inc([operation, response.status]);
    metrics.requestSeconds.observe([operation], (performance.now() - started) / 1000);
    ctx.status = response.status;
    // Verbatim (a raw output's Content-Type is its mimeType, nothing added), and before
    // the body, which then leaves it alone instead of looking up a type of its own.
    ctx.set('content-type', response.contentType);
    ctx.body = response.body;
    if (response.headers) ctx.set(response.headers);
    return undefined;
  }

  function failure(ctx: Context, err: unknown): WpsResponse {
    const ex = asOwsException(err);
    if (!(err instanceof OwsException)) ctx.app.emit('error', err, ctx);
    const response: WpsResponse = { status: ex.httpStatus, contentType: XML_CONTENT_TYPE, body: exceptionReportXml(ex, languages[0]!) };
    if (ex.httpStatus === 405) response.headers = { allow: 'GET, HEAD, POST' };
    return response;
  }

  function parseGet(ctx: Context): WpsRequest {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      throw new OwsException('OperationNotSupported', `HTTP method ${ctx.method} is not supported`, ctx.method, 405);
    }
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

  async function parsePost(ctx: Context): Promise<WpsRequest> {
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
