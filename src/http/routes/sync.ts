import type { FastifyInstance } from 'fastify';
import { deliveryCodeInfo } from '../../errors/codes.js';
import { message, pickLanguage, type Language } from '../../errors/messages.js';
import { UPSTREAM_STATES } from '../../sync/states.js';
import type { FailureItem } from '../../sync/record-search.js';
import { callerOf, mayShowIdentity } from '../auth/authenticate.js';
import type { Services } from '../services.js';
import { failureFilter, failureFilterProperties, knownUpstream, type FailuresQuery } from './failure-filter.js';
import { MAX_OFFSET, nextLink } from './query.js';

const summaryQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    upstream: { type: 'string', maxLength: 40 },
    days: { type: 'integer', minimum: 1, maximum: 366, default: 14 },
  },
} as const;

const failuresQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...failureFilterProperties,
    limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
    offset: { type: 'integer', minimum: 0, maximum: MAX_OFFSET, default: 0 },
  },
} as const;

/** The status API of dinas kesehatan and puskesmas: what reached each upstream, and what did not. */
export function syncRoutes(app: FastifyInstance, services: Services): void {
  app.get<{ Querystring: { upstream?: string; days: number } }>(
    '/v1/sync/summary',
    {
      config: { access: 'status:read' },
      schema: {
        tags: ['status'],
        summary: 'Counts per state by regency, puskesmas and posyandu, per upstream, with the backlog age, last sync, latency and a daily trend',
        querystring: summaryQuery,
      },
    },
    async (req) => {
      const caller = callerOf(req);
      const upstream = req.query.upstream;
      if (upstream) knownUpstream(services, upstream);
      const upstreams = await services.status.summary((p) => caller.scope.covers(p), { days: req.query.days, ...(upstream ? { upstream } : {}) });
      return { generatedAt: new Date().toISOString(), scope: caller.scope.describe(), states: UPSTREAM_STATES, upstreams };
    },
  );

  app.get<{ Querystring: FailuresQuery }>(
    '/v1/sync/failures',
    {
      config: { access: 'status:read' },
      schema: {
        tags: ['status'],
        summary: 'Failed and waiting records with the reason in plain words and the upstream OperationOutcome, filterable and paginated',
        querystring: failuresQuery,
      },
    },
    async (req) => {
      const caller = callerOf(req);
      const q = req.query;
      const lang = pickLanguage(req.headers['accept-language']);
      const filter = failureFilter(services, caller, q);
      const { items, more } = await services.search.failures({ ...filter, limit: q.limit, offset: q.offset }, (p) => caller.scope.covers(p), mayShowIdentity(caller));
      return { items: items.map((i) => withWords(i, lang)), ...(more ? { links: { next: nextLink('/v1/sync/failures', q, q.offset + q.limit) } } : {}) };
    },
  );
}

function withWords(item: FailureItem, lang: Language) {
  const r = item.reason;
  // A reason with words of its own (a setting to complete, say) is told as such; others by category.
  const key = deliveryCodeInfo(r.code)?.ownWords ? `reason.${r.code}` : `reason.${r.category}`;
  const text = message(key, lang, { code: r.code, detail: r.detail ?? r.code });
  return { ...item, reason: { ...r, text } };
}
