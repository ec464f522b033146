import type { FastifyInstance } from 'fastify';
import { GerbangError } from '../../errors/gerbang-error.js';
import { pickLanguage } from '../../errors/messages.js';
import type { Issue } from '../../errors/gerbang-error.js';
import { prepareItem } from '../../ingest/prepare-item.js';
import { historyInScope } from '../../ingest/scoped-history.js';
import { callerOf } from '../auth/authenticate.js';
import { sourceOf } from '../auth/source.js';
import { toOperationOutcome } from '../operation-outcome.js';
import type { Services } from '../services.js';

/** Dry run for app developers: the Bundle Gerbang would send and every issue, nothing stored or queued. */
export function mapRoutes(app: FastifyInstance, services: Services): void {
  app.post<{ Querystring: { source?: string; posyandu?: string; validate?: string } }>(
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
            posyandu: { type: 'string', maxLength: 64, description: 'for adapters of apps whose rows do not name the posyandu' },
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
      const notices = new Map<unknown, Issue[]>();
      const history = async (record: unknown) => {
        const scoped = await historyInScope(services.history, record, caller.scope);
        notices.set(record, scoped.notices);
        return scoped.history;
      };
      const { posyandu } = req.query;
      // ?source=<adapter>: the app's own row, judged as POST /v1/records?source= would judge it
      const parts = await prepareItem(req.body, source, { facilities: services.config.facilities, ...(services.adapters ? { adapters: services.adapters } : {}), now: new Date(), ...(posyandu ? { posyandu } : {}), history });
      const answers = [];
      for (const part of parts) {
        const read = part.adapted ? { kind: part.kind, record: part.adapted.record, provenance: part.adapted.provenance } : {};
        const notice = notices.get(part.body) ?? [];
        if (!part.result.ok) {
          answers.push({ valid: false, ...read, outcome: toOperationOutcome([...part.result.issues, ...notice], lang) });
          continue;
        }
        const { bundle, indicators, warnings } = part.result.prepared;
        answers.push({
          valid: true,
          ...read,
          indicators,
          bundle,
          outcome: toOperationOutcome([...warnings, ...notice], lang),
          ...(validator ? { upstreamValidation: { upstream: req.query.validate, ...(await validator(bundle)) } } : {}),
        });
      }
      // One record answers as itself; a native row that holds several lists them all, as /v1/records does.
      const [only] = answers;
      return answers.length === 1 && only ? only : { valid: answers.every((a) => a.valid), records: answers };
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
