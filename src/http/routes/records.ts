import type { FastifyInstance } from 'fastify';
import { mayShowIdentity, outOfScope } from '../auth/authenticate.js';
import { maskIdentity } from '../../log/identity-mask.js';
import { pickLanguage } from '../../errors/messages.js';
import { shownTo } from '../../ingest/history-shown.js';
import { storeCall } from '../../ingest/accept-record.js';
import { ingest } from '../../ingest/ingest.js';
import type { StoredRecord } from '../../sync/ledger.js';
import { UPSTREAM_STATES, type UpstreamState } from '../../sync/states.js';
import { callerOf } from '../auth/authenticate.js';
import { sourceOf } from '../auth/source.js';
import { toOperationOutcome } from '../operation-outcome.js';
import { refusedPart } from '../refused-part.js';
import type { Services } from '../services.js';
import { MAX_OFFSET, nextLink, timeRange } from './query.js';
import { idParams, readInScope } from './scoped-record.js';

const sourceQuery = {
  type: 'object',
  properties: {
    source: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,39}$', description: "the app's adapter (docs/adapters.md); default: the key's app, else canonical records" },
    posyandu: { type: 'string', maxLength: 64, description: 'for adapters of apps whose rows do not name the posyandu' },
  },
} as const;

export function recordRoutes(app: FastifyInstance, services: Services): void {
  app.post<{ Querystring: { source?: string; posyandu?: string } }>(
    '/v1/records',
    {
      config: { access: 'records:write' },
      schema: { tags: ['records'], summary: 'Send one record (canonical, or an app\'s native JSON with ?source=)', querystring: sourceQuery },
    },
    async (req, reply) => {
      const caller = callerOf(req);
      const source = sourceOf(req, caller);
      const { posyandu } = req.query;
      const lang = pickLanguage(req.headers['accept-language']);
      const covers = (p: string) => caller.scope.coversPosyandu(p);
      // one record from the key's records-per-minute budget (a native row counts as one, like a batch line)
      await services.budget?.admitOne(caller);
      // ?source=<adapter>: the app's native JSON, read by its adapter into canonical records.
      const ingested = await ingest(req.body, source, { ...services, mayWrite: (p) => caller.scope.coversPosyandu(p) }, new Date(), posyandu);
      const results = [];
      for (const accepted of ingested) {
        if (accepted.result === 'refused') {
          // the other records of the row went in; this one is answered next to them
          results.push(refusedPart(accepted, lang));
          continue;
        }
        // history-derived indicators only from history the caller's scope covers (history-shown.ts)
        const { indicators, warnings } = shownTo(accepted, accepted.historyFrom, covers);
        // A duplicate answers where the record stands now; unread, it would be a guess (503 instead).
        const stored = accepted.outcome === 'duplicate' ? await storeCall(() => services.ledger.get(accepted.id)) : undefined;
        req.log.info({ recordId: accepted.id, version: accepted.version, outcome: accepted.outcome }, 'record accepted');
        results.push({
          id: accepted.id,
          status: stored ? overallState(stored) : 'queued',
          version: accepted.version,
          outcome: accepted.outcome,
          links: { self: `/v1/records/${accepted.id}` },
          indicators,
          ...(accepted.provenance ? { kind: accepted.kind, provenance: accepted.provenance } : {}),
          ...(warnings.length > 0 ? { warnings: toOperationOutcome(warnings, lang) } : {}),
        });
      }
      const first = results.find((r) => 'links' in r);
      if (!first) throw new Error('no record to answer for');
      // One record answers as itself; a native row that held several records lists them all.
      return reply.code(202).header('location', first.links.self).send(results.length === 1 ? first : { records: results });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/records/:id',
    { config: { access: 'records:read' }, schema: { tags: ['records'], summary: 'A record: its state at each upstream, attempts, last error, upstream resource ids', params: idParams } },
    async (req) => {
      const caller = callerOf(req);
      const stored = await readInScope(services, caller, req.params.id);
      if (stored.payloadUnreadable) req.log.warn({ recordId: stored.id, payloadKey: stored.payloadUnreadable.keyId, reason: stored.payloadUnreadable.reason }, 'stored payload cannot be read with the configured security.payloadKeys');
      return present(stored, mayShowIdentity(caller), (p) => caller.scope.coversPosyandu(p));
    },
  );

  app.get<{ Querystring: { posyandu?: string; state?: UpstreamState; from?: string; to?: string; limit: number; offset: number } }>(
    '/v1/records',
    {
      config: { access: 'records:read' },
      schema: {
        tags: ['records'],
        summary: 'What a posyandu sent: records newest first, by state and time received',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            posyandu: { type: 'string', maxLength: 64, description: "default: every posyandu of the key's scope" },
            state: { enum: [...UPSTREAM_STATES] },
            from: { type: 'string', format: 'date-time' },
            to: { type: 'string', format: 'date-time' },
            limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
            offset: { type: 'integer', minimum: 0, maximum: MAX_OFFSET, default: 0 },
          },
        },
      },
    },
    async (req) => {
      const caller = callerOf(req);
      const q = req.query;
      if (q.posyandu && !caller.scope.coversPosyandu(q.posyandu)) throw outOfScope(q.posyandu);
      const posyandu = q.posyandu ? [q.posyandu] : caller.scope.posyanduCodes();
      const { items, more } = await services.search.byPosyandu({ posyandu, ...(q.state ? { state: q.state } : {}), ...timeRange(q.from, q.to), limit: q.limit, offset: q.offset, showIdentity: mayShowIdentity(caller) });
      return { items: items.map((i) => ({ ...i, links: { self: `/v1/records/${i.id}` } })), ...(more ? { links: { next: nextLink('/v1/records', q, q.offset + q.limit) } } : {}) };
    },
  );
}

/** A stored record as a key sees it: without the right to see identity, upstream words and provenance are masked. */
function present(r: StoredRecord, showIdentity: boolean, covers: (posyandu: string) => boolean) {
  const hide = <T>(x: T): T => (showIdentity ? x : maskIdentity(x, r.people));
  return {
    id: r.id,
    source: r.source,
    recordId: r.recordId,
    kind: r.kind,
    posyandu: r.posyandu,
    puskesmas: r.puskesmas,
    version: r.version,
    receivedAt: r.receivedAt,
    updatedAt: r.updatedAt,
    ...(r.payloadDroppedAt ? { payloadDroppedAt: r.payloadDroppedAt } : {}),
    ...(r.payloadUnreadable ? { payloadUnreadable: r.payloadUnreadable } : {}),
    status: overallState(r),
    indicators: shownTo({ indicators: r.indicators, warnings: [] }, r.historyFrom, covers).indicators,
    ...(r.provenance ? { provenance: hide(r.provenance) } : {}),
    upstreams: Object.fromEntries(Object.entries(r.upstreams).map(([u, s]) => [u, { ...s, ...(s.lastError ? { lastError: hide(s.lastError) } : {}), ...(s.outcome !== undefined ? { outcome: hide(s.outcome) } : {}) }])),
    links: { self: `/v1/records/${r.id}` },
  };
}

/** One word for the whole record: the least advanced state among its upstreams. */
function overallState(r: Pick<StoredRecord, 'upstreams'>): UpstreamState {
  const states = Object.values(r.upstreams).map((u) => u.state);
  for (const s of ['failed', 'waiting-identity', 'retrying', 'sending', 'queued'] as const) if (states.includes(s)) return s;
  return 'synced';
}
