import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Authenticator } from '../auth/authenticate.js';
import { AuthRefusal, type Caller } from '../auth/caller.js';
import type { Metrics } from '../metrics.js';
import { asOwsException, invalidParameter, missingParameter, OwsException } from '../exceptions.js';
import { handleRequest, type OperationContext, type WpsResponse } from '../operations/index.js';
import { XML_CONTENT_TYPE } from '../operations/context.js';
import { exceptionReportXml } from '../ows/exception-report.js';
import { parseKvp } from '../ows/kvp.js';
import type { WpsRequest } from '../ows/request.js';
import { decodeXmlBytes, XmlSyntaxError } from '../ows/xml-reader.js';
import { parseXmlRequest } from '../ows/xml-request.js';
import { crossSiteRefusal } from './cross-site.js';
import { readBody } from './read-body.js';
import { clientGone, send as sendAnswer } from './send.js';

/**
 * The /wps endpoint: a GET is judged by its query string, a POST by its body alone
 * (never falling back to the query), both become one WpsRequest.
 *
 * A GET whose answer is ready at once (GetCapabilities, DescribeProcess, a refusal) is
 * answered without a promise: awaiting one per step cost about 3 µs a request here,
 * a tenth of answering GetCapabilities.
 *
 * `logError` hears of what went wrong inside; it knows a client that hung up from a fault.
 */
export function wpsEndpoint(ops: OperationContext, auth: Authenticator, metrics: Metrics, logError: (err: unknown) => void) {
  const { limits, languages } = ops.config;

  /**
   * A promise only when the answer is not ready at once; it never rejects on a client's
   * account. Credentials are judged first: a bad token is refused before a body is read.
   */
  return (req: IncomingMessage, res: ServerResponse, query: string): Promise<void> | undefined => {
    const started = performance.now();
    let caller: Caller | Promise<Caller>;
    try {
      caller = auth.identify(req);
    } catch (err) {
      return send(req, res, started, 'unparsed', failure(err));
    }
    if (caller instanceof Promise) {
      return caller.then(
        (c) => parse(req, res, query, started, c),
        (err: unknown) => send(req, res, started, 'unparsed', failure(err)),
      );
    }
    return parse(req, res, query, started, caller);
  };

  function parse(req: IncomingMessage, res: ServerResponse, query: string, started: number, caller: Caller): Promise<void> | undefined {
    let request: WpsRequest | Promise<WpsRequest>;
    try {
      request = req.method === 'POST' ? parsePost(req) : parseGet(req.method!, query);
    } catch (err) {
      return send(req, res, started, 'unparsed', failure(err));
    }
    if (request instanceof Promise) {
      return request.then(
        (r) => answer(req, res, started, r, caller),
        (err: unknown) => (clientGone(err) ? hungUp(res, started) : send(req, res, started, 'unparsed', failure(err))),
      );
    }
    return answer(req, res, started, request, caller);
  }

  function answer(req: IncomingMessage, res: ServerResponse, started: number, request: WpsRequest, caller: Caller): Promise<void> | undefined {
    let response: WpsResponse | Promise<WpsResponse>;
    try {
      const refused = crossSiteRefusal(req, request);
      if (refused) throw refused;
      response = handleRequest(request, ops, caller);
    } catch (err) {
      return send(req, res, started, request.operation, failure(err));
    }
    if (response instanceof Promise) {
      return response.then(
        (r) => send(req, res, started, request.operation, r),
        (err: unknown) => send(req, res, started, request.operation, failure(err)),
      );
    }
    return send(req, res, started, request.operation, response);
  }

  function send(req: IncomingMessage, res: ServerResponse, started: number, operation: string, response: WpsResponse): undefined {
    try {
      sendAnswer(req, res, response);
    } catch (err) {
      // Node refused the head (a process's output type it cannot carry in a header):
      // the client still gets an ExceptionReport, and the server keeps running.
      response = failure(err);
      if (res.headersSent) {
        res.destroy();
      } else {
        // The refused writeHead left its reason phrase ("OK") behind.
        res.statusMessage = '';
        sendAnswer(req, res, response);
      }
    }
    metrics.requests.inc([operation, response.status]);
    metrics.requestSeconds.observe([operation], (performance.now() - started) / 1000);
    return undefined;
  }

  /**
   * The client left before its request was whole: nobody to answer, and no fault of
   * the server's. Counted as 499, nginx's "client closed request".
   */
  function hungUp(res: ServerResponse, started: number): undefined {
    res.destroy();
    metrics.requests.inc(['unparsed', 499]);
    metrics.requestSeconds.observe(['unparsed'], (performance.now() - started) / 1000);
    return undefined;
  }

  function failure(err: unknown): WpsResponse {
    if (err instanceof AuthRefusal) {
      // OWS has no exception code of its own for credentials: the HTTP status says it.
      const ex = new OwsException('NoApplicableCode', err.message, undefined, err.status);
      const response: WpsResponse = { status: err.status, contentType: XML_CONTENT_TYPE, body: exceptionReportXml(ex, languages[0]!) };
      if (err.challenge) response.headers = { 'www-authenticate': err.challenge };
      return response;
    }
    const ex = asOwsException(err);
    if (!(err instanceof OwsException)) logError(err);
    const response: WpsResponse = { status: ex.httpStatus, contentType: XML_CONTENT_TYPE, body: exceptionReportXml(ex, languages[0]!) };
    if (ex.httpStatus === 405) response.headers = { allow: 'GET, HEAD, POST' };
    return response;
  }

  function parseGet(method: string, query: string): WpsRequest {
    if (method !== 'GET' && method !== 'HEAD') {
      throw new OwsException('OperationNotSupported', `HTTP method ${method} is not supported`, method, 405);
    }
    if (query.length > limits.maxQueryLength) throw queryTooLong(limits.maxQueryLength);
    return parseKvp(query, languages);
  }

  async function parsePost(req: IncomingMessage): Promise<WpsRequest> {
    // Counted against the server's memory for requests while it is being read: many
    // slow senders together are refused (ServerBusy) instead of filling the memory.
    const lease = ops.requestMemory.lease();
    let bytes: Buffer;
    try {
      bytes = await readBody(req, limits.maxRequestSize, lease);
    } finally {
      lease.release();
    }
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
    return parseXmlRequest(text, languages, limits.maxXmlDepth, limits.maxXmlElements);
  }
}

/** A KVP query over the limit, here or already in Node's parser (server.ts). */
export const queryTooLong = (maxQueryLength: number): OwsException =>
  new OwsException('FileSizeExceeded', `The query string is longer than the limit of ${maxQueryLength} bytes; POST large requests as XML`, undefined, 414);
