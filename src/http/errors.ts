import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GerbangError, type Issue } from '../errors/gerbang-error.js';
import { pickLanguage } from '../errors/messages.js';
import { logRepeated } from '../log/logger.js';
import { toOperationOutcome } from './operation-outcome.js';

const FHIR_JSON = 'application/fhir+json; charset=utf-8';

// Fastify's own errors for a bad request, translated into ours.
const fastifyCodes: Record<string, (err: FastifyError, req: FastifyRequest) => GerbangError> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: (_e, req) =>
    new GerbangError('request.content-type', [{ key: 'request.content-type', severity: 'error', params: { contentType: req.headers['content-type'] ?? '(none)' } }]),
  FST_ERR_CTP_BODY_TOO_LARGE: (_e, req) =>
    new GerbangError('request.too-large', [{ key: 'request.too-large', severity: 'error', params: { limit: req.routeOptions.bodyLimit } }]),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new GerbangError('request.not-json'),
  FST_ERR_CTP_INVALID_JSON_BODY: () => new GerbangError('request.not-json'),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => new GerbangError('request.not-json'),
  // a dashboard path that leaves its folder (`..%2f`) or holds a NUL: there is nothing there
  FST_STATIC_FORBIDDEN_PATH: (_e, req) => notFound(req),
};

// Any other 4xx a framework part raises is the client's doing, never a 500.
const byStatus: Record<number, (err: FastifyError, req: FastifyRequest) => GerbangError> = {
  404: (_e, req) => notFound(req),
  413: fastifyCodes.FST_ERR_CTP_BODY_TOO_LARGE!,
  415: fastifyCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE!,
};

function notFound(req: FastifyRequest): GerbangError {
  return new GerbangError('route.not-found', [{ key: 'route.not-found', severity: 'error', params: { url: req.url.split('?')[0] } }]);
}

/** Fastify's `frameworkErrors`: a request it cannot route (an undecodable URL) gets an OperationOutcome too. */
export function malformedRequest(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  req.log.info({ code: err.code }, 'malformed request');
  void sendOutcome(reply, req, new GerbangError('request.malformed'));
}

function sendOutcome(reply: FastifyReply, req: FastifyRequest, err: GerbangError): FastifyReply {
  if (err.retryAfterSeconds !== undefined) void reply.header('retry-after', String(err.retryAfterSeconds));
  if (err.status === 401) void reply.header('www-authenticate', 'Bearer realm="gerbang"');
  // A body refused before it was read in full is not read on: the connection closes after the
  // answer, so the client hears it at once instead of pushing the rest of its body first.
  if (!req.raw.complete) void reply.header('connection', 'close');
  return reply
    .code(err.status)
    .type(FHIR_JSON)
    .send(toOperationOutcome(err.issues, pickLanguage(req.headers['accept-language'])));
}

/** The one error boundary: known errors become their 4xx/503; anything else is a 500 and a bug. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, req, reply) => {
    let err: GerbangError;
    if (error instanceof GerbangError) err = error;
    else if (error.code && fastifyCodes[error.code]) err = fastifyCodes[error.code]!(error, req);
    else if (error instanceof SyntaxError || (error.statusCode === 400 && /JSON/i.test(error.message))) err = new GerbangError('request.not-json');
    else if (error.validation) err = new GerbangError('request.invalid-parameter', validationIssues(error));
    else if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      req.log.info({ code: error.code, status: error.statusCode }, 'client error');
      err = (byStatus[error.statusCode] ?? (() => new GerbangError('request.malformed')))(error, req);
    } else {
      logRepeated(req.log, 'error', 'http', error, {}, 'unexpected error');
      err = new GerbangError('internal');
    }
    if (err.code === 'store.unavailable') logRepeated(req.log, 'warn', 'ingest', err.cause, {}, 'store unavailable at ingest');
    return sendOutcome(reply, req, err);
  });
  app.setNotFoundHandler((req, reply) => sendOutcome(reply, req, notFound(req)));
}

function validationIssues(error: FastifyError): Issue[] {
  return (error.validation ?? []).map((v) => ({
    key: 'request.invalid-parameter',
    severity: 'error' as const,
    path: (v.instancePath || '').replace(/^\//, '').replace(/\//g, '.') || String((v.params as { missingProperty?: string }).missingProperty ?? error.validationContext ?? ''),
    params: { reason: v.message ?? 'invalid' },
  }));
}
