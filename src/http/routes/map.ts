import type { FastifyInstance } from 'fastify';
import { GerbangError } from '../../errors/gerbang-error.js';
import { pickLanguage } from '../../errors/messages.js';
import { prepareRecord } from '../../ingest/prepare-record.js';
import { historyInScope } from '../../ingest/scoped-history.js';
import { callerOf } from '../auth/authenticate.js';
import { sourceOf } from '../auth/source.js';
import { toOperationOutcome } from '../operation-outcome.js';
import type { Services } from '../services.js';

/** Dry run for app developers: the Bundle Gerbang would send and every issue, nothing stored or queued. */
export function mapRoutes(app: FastifyInstance, services: Services): void {
  app.post<{ Querystring: { source?: string; validate?: string } }>(
    '/v1/$map',
    {
      config: { access: 'records:read' },
      schema: {
        tags: ['developers'],
        summary: 'Dry run: the FHIR Bundle Gerbang would send and every issue; nothing is stored or queued',
        querystring: {
          type: 'object',
          properties: {
            source: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,39}$' },
            validate: { type: 'string', maxLength: 40, description: "also ask this upstream's $validate" },
          },
        },
      },
    },
    async (req) => {
    const caller = callerOf(req);
    const source = sourceOf(req, caller);
    const validator = req.query.validate === undefined ? undefined : upstreamValidator(services, req.query.validate);
    const lang = pickLanguage(req.headers['accept-language']);
    // Only history recorded in the caller's scope (the whole decision is in historyInScope).
    const { history, notices } = await historyInScope(services.history, req.body, caller.scope);
    const result = prepareRecord(req.body, source, services.config.facilities, new Date(), history);
    if (!result.ok) return { valid: false, outcome: toOperationOutcome([...result.issues, ...notices], lang) };
    return {
      valid: true,
      indicators: result.prepared.indicators,
      bundle: result.prepared.bundle,
      outcome: toOperationOutcome([...result.prepared.warnings, ...notices], lang),
      ...(validator ? { upstreamValidation: { upstream: req.query.validate, ...(await validator(result.prepared.bundle)) } } : {}),
    };
    },
  );
}

/** `?validate=<upstream>`: that upstream's $validate, when it has one. */
function upstreamValidator(services: Services, name: string) {
  const upstream = services.upstreams.find((u) => u.name === name);
  const validate = upstream?.validate?.bind(upstream);
  if (!validate) {
    const reason = upstream ? 'this upstream has no $validate' : `no upstream named "${name}"`;
    throw new GerbangError('request.invalid-parameter', [{ key: 'request.invalid-parameter', severity: 'error', path: 'validate', params: { reason } }]);
  }
  return validate;
}
