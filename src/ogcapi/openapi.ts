import type { Json } from './process-description.js';

/** The standard's own schemas, by their published address. */
const OGC = 'https://schemas.opengis.net/ogcapi/processes/part1/1.0/openapi/schemas';
const schema = (name: string): Json => ({ $ref: `${OGC}/${name}.yaml` });
const json = (name: string, description: string): Json => ({ description, content: { 'application/json': { schema: schema(name) } } });
const problem = (description: string): Json => ({ description, content: { 'application/problem+json': { schema: schema('exception') } } });

const jobId = { name: 'jobId', in: 'path', required: true, description: 'A job id', schema: { type: 'string', format: 'uuid' } };
const processId = { name: 'processID', in: 'path', required: true, description: 'A process identifier', schema: { type: 'string' } };
const query = (name: string, description: string, s: Json): Json => ({ name, in: 'query', required: false, description, schema: s });

/**
 * The API definition (OpenAPI 3.0) of what this server answers beside WPS: the
 * standard's operations, with its own schemas by reference, plus the WPS endpoint itself.
 */
export function openApiDocument(title: string, description: string, base: string, version: string, authenticated = false): Json {
  // With authentication on: bearer tokens (static, or an OpenID Connect issuer's); reading
  // the landing page, conformance, definition and processes needs none.
  const security = authenticated ? { components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A static API token or an access token of the configured OpenID Connect issuer' } } }, security: [{ bearer: [] }, {}] } : {};
  const document: Json = {
    ...security,
    openapi: '3.0.3',
    info: { title, description, version, license: { name: 'as the server’s operator states' } },
    servers: [{ url: base }],
    paths: {
      '/': { get: { summary: 'The landing page', operationId: 'getLandingPage', responses: { 200: json('landingPage', 'Links to the API’s parts') } } },
      '/conformance': { get: { summary: 'The conformance classes implemented', operationId: 'getConformance', responses: { 200: json('confClasses', 'The classes') } } },
      '/api': { get: { summary: 'This API definition (JSON; HTML for a browser)', operationId: 'getApi', responses: { 200: { description: 'The OpenAPI document', content: { 'application/vnd.oai.openapi+json;version=3.0': {}, 'text/html': {} } } } } },
      '/processes': {
        get: {
          summary: 'The processes the caller may use',
          operationId: 'getProcesses',
          parameters: [query('limit', 'Processes per page', { type: 'integer', minimum: 1, maximum: 10000, default: 10 }), query('offset', 'Processes to skip', { type: 'integer', minimum: 0, default: 0 })],
          responses: { 200: json('processList', 'A page of process summaries'), 400: problem('A parameter out of range') },
        },
      },
      '/processes/{processID}': {
        get: { summary: 'A process’s description', operationId: 'getProcessDescription', parameters: [processId], responses: { 200: json('process', 'Inputs and outputs as JSON schemas'), 404: problem('No such process') } },
      },
      '/processes/{processID}/execution': {
        post: {
          summary: 'Execute a process: synchronously, or as a job with Prefer: respond-async',
          operationId: 'execute',
          parameters: [processId, { name: 'Prefer', in: 'header', required: false, description: 'respond-async for a job', schema: { type: 'string' } }],
          requestBody: { required: true, content: { 'application/json': { schema: schema('execute') } } },
          callbacks: {
            jobProgress: { '{$request.body#/subscriber/inProgressUri}': { post: { requestBody: { content: { 'application/json': { schema: schema('statusInfo') } } }, responses: { 200: { description: 'Received' } } } } },
            jobSuccess: { '{$request.body#/subscriber/successUri}': { post: { requestBody: { content: { 'application/json': { schema: schema('results') } } }, responses: { 200: { description: 'Received' } } } } },
            jobFailed: { '{$request.body#/subscriber/failedUri}': { post: { requestBody: { content: { 'application/json': { schema: schema('exception') } } }, responses: { 200: { description: 'Received' } } } } },
          },
          responses: {
            200: { description: 'The results (a document, or one output raw)', content: { 'application/json': { schema: schema('results') }, '*/*': {} } },
            201: { ...json('statusInfo', 'The job'), headers: { Location: { description: 'The job', schema: { type: 'string' } } } },
            400: problem('An input or output the process does not take'),
            404: problem('No such process'),
          },
        },
      },
      '/jobs': {
        get: {
          summary: 'The caller’s jobs (an admin’s: everyone’s)',
          operationId: 'getJobs',
          parameters: [
            query('limit', 'Jobs per page', { type: 'integer', minimum: 1, maximum: 1000, default: 100 }),
            query('offset', 'Jobs to skip', { type: 'integer', minimum: 0 }),
            query('type', 'Job types (process)', { type: 'array', items: { type: 'string', enum: ['process'] } }),
            query('processID', 'Processes', { type: 'array', items: { type: 'string' } }),
            query('status', 'States', { type: 'array', items: schema('statusCode') }),
            query('datetime', 'Created at or within (RFC 3339 instant or interval)', { type: 'string' }),
            query('minDuration', 'Ran at least (seconds)', { type: 'integer', minimum: 0 }),
            query('maxDuration', 'Ran at most (seconds)', { type: 'integer', minimum: 0 }),
          ],
          responses: { 200: json('jobList', 'A page of jobs'), 400: problem('A parameter out of range') },
        },
      },
      '/jobs/{jobId}': {
        get: {
          summary: 'A job’s status; as Server-Sent Events with Accept: text/event-stream',
          operationId: 'getStatus',
          parameters: [jobId],
          responses: { 200: { description: 'Its statusInfo, or a stream of them', content: { 'application/json': { schema: schema('statusInfo') }, 'text/event-stream': {} } }, 404: problem('No such job') },
        },
        delete: { summary: 'Dismiss a job', operationId: 'dismiss', parameters: [jobId], responses: { 200: json('statusInfo', 'The dismissed job'), 404: problem('No such job'), 409: problem('The job has ended') } },
      },
      '/jobs/{jobId}/logs': {
        get: { summary: 'A job’s stdout and stderr (their last 256 KB)', operationId: 'getLogs', parameters: [jobId], responses: { 200: { description: 'The logs', content: { 'application/json': { schema: { type: 'object', properties: { jobID: { type: 'string' }, stdout: { type: 'string' }, stderr: { type: 'string' } } } } } }, 404: problem('No such job') } },
      },
      '/jobs/{jobId}/results': {
        get: { summary: 'A job’s results', operationId: 'getResult', parameters: [jobId], responses: { 200: json('results', 'Its outputs'), 404: problem('No such job, or not ready'), 500: problem('The job failed') } },
      },
      '/wps': {
        get: { summary: 'OGC WPS 1.0.0 (KVP): GetCapabilities, DescribeProcess, Execute', operationId: 'wpsGet', responses: { 200: { description: 'A WPS document', content: { 'text/xml': {} } } } },
        post: { summary: 'OGC WPS 1.0.0 (XML): Execute and the others', operationId: 'wpsPost', requestBody: { content: { 'text/xml': {} } }, responses: { 200: { description: 'A WPS document', content: { 'text/xml': {} } } } },
      },
    },
  };
  // What any operation of the JSON API may answer besides its own.
  const common: Record<string, Json> = {
    401: problem('Credentials needed, or not valid (when authentication is on)'),
    405: problem('Another method is needed here'),
    503: problem('The server is busy, or a part it needs is away; try again'),
  };
  for (const [path, ops] of Object.entries(document.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>)) {
    if (path === '/wps') continue;
    for (const op of Object.values(ops)) for (const [code, answer] of Object.entries(common)) op.responses[code] ??= answer;
  }
  const execution = (document.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>)['/processes/{processID}/execution']!.post!;
  execution.responses[413] = problem('The request body is larger than the server takes');
  return document;
}
