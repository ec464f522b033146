import type { FastifyInstance } from 'fastify';
import { deliveryCodeInfo } from '../../errors/codes.js';
import { GerbangError } from '../../errors/gerbang-error.js';
import { message, pickLanguage, type Language } from '../../errors/messages.js';
import { recordSchemas } from '../../records/schemas/index.js';
import { UPSTREAM_STATES } from '../../sync/states.js';
import type { FailureItem } from '../../sync/record-search.js';
import { callerOf, mayShowIdentity, type Caller } from '../auth/authenticate.js';
import type { Services } from '../services.js';
import { MAX_OFFSET, nextLink, timeRange } from './query.js';

const summaryQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    upstream: { type: 'string', maxLength: 40 },
    days: { type: 'integer', minimum: 1, maximum: 366, default: 14 },
  },
} as const;

/** What the failures list and the bulk replay filter on. */
export const failureFilterProperties = {
  upstream: { type: 'string', maxLength: 40 },
  posyandu: { type: 'string', maxLength: 64 },
  puskesmas: { type: 'string', maxLength: 64 },
  kind: { enum: Object.keys(recordSchemas) },
  reason: { type: 'string', maxLength: 64, description: 'rejected, gave-up, identity, other, or a code such as upstream.http-422' },
  from: { type: 'string', format: 'date-time', description: 'received at or after' },
  to: { type: 'string', format: 'date-time', description: 'received at or before' },
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

export interface FailuresQuery {
  upstream?: string;
  posyandu?: string;
  puskesmas?: string;
  kind?: string;
  reason?: string;
  from?: string;
  to?: string;
  limit: number;
  offset: number;
}

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

/** Filters shared by the failures list and the bulk replay; places outside the key's scope are refused. */
export function failureFilter(services: Services, caller: Caller, q: Omit<FailuresQuery, 'limit' | 'offset'>) {
  if (q.upstream) knownUpstream(services, q.upstream);
  if (q.posyandu && !caller.scope.coversPosyandu(q.posyandu)) throw scopeError('posyandu', q.posyandu);
  if (q.puskesmas && !caller.scope.coversPuskesmas(q.puskesmas)) throw scopeError('puskesmas', q.puskesmas);
  return {
    upstreams: q.upstream ? [q.upstream] : services.config.upstreams.map((u) => u.name),
    ...(q.posyandu ? { posyandu: q.posyandu } : {}),
    ...(q.puskesmas ? { puskesmas: q.puskesmas } : {}),
    ...(q.kind ? { kind: q.kind } : {}),
    ...(q.reason ? { reason: q.reason } : {}),
    ...timeRange(q.from, q.to),
  };
}

function withWords(item: FailureItem, lang: Language) {
  const r = item.reason;
  // A reason with words of its own (a setting to complete, say) is told as such; others by category.
  const key = deliveryCodeInfo(r.code)?.ownWords ? `reason.${r.code}` : `reason.${r.category}`;
  const text = message(key, lang, { code: r.code, detail: r.detail ?? r.code });
  return { ...item, reason: { ...r, text } };
}

export function knownUpstream(services: Services, name: string): void {
  if (!services.config.upstreams.some((u) => u.name === name)) {
    throw new GerbangError('request.invalid-parameter', [{ key: 'request.invalid-parameter', severity: 'error', path: 'upstream', params: { reason: `no upstream named "${name}"` } }]);
  }
}

function scopeError(level: string, code: string): GerbangError {
  return new GerbangError('auth.out-of-scope', [{ key: 'auth.scope-unknown', severity: 'error', path: level, params: { value: code } }]);
}
