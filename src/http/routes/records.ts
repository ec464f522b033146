import type { FastifyInstance } from 'fastify';
import { GerbangError } from '../../errors/gerbang-error.js';
import { pickLanguage } from '../../errors/messages.js';
import { ingest } from '../../ingest/ingest.js';
import type { StoredRecord } from '../../sync/ledger.js';
import type { UpstreamState } from '../../sync/states.js';
import { toOperationOutcome } from '../operation-outcome.js';
import type { Services } from '../services.js';

const sourceQuery = {
  type: 'object',
  properties: {
    source: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,39}$', default: 'default' },
    posyandu: { type: 'string', maxLength: 64, description: 'for adapters of apps whose rows do not name the posyandu' },
  },
} as const;

export function recordRoutes(app: FastifyInstance, services: Services): void {
  app.post<{ Querystring: { source: string; posyandu?: string } }>(
    '/v1/records',
    { schema: { querystring: sourceQuery } },
    async (req, reply) => {
      const { source, posyandu } = req.query;
      const lang = pickLanguage(req.headers['accept-language']);
      // ?source=<adapter>: the app's native JSON, read by its adapter into canonical records.
      const ingested = await ingest(req.body, source, services, new Date(), posyandu);
      const results = [];
      for (const accepted of ingested) {
        const stored = accepted.outcome === 'duplicate' ? await services.ledger.get(accepted.id).catch(() => undefined) : undefined;
        req.log.info({ recordId: accepted.id, version: accepted.version, outcome: accepted.outcome }, 'record accepted');
        results.push({
          id: accepted.id,
          status: stored ? overallState(stored) : 'queued',
          version: accepted.version,
          outcome: accepted.outcome,
          links: { self: `/v1/records/${accepted.id}` },
          indicators: accepted.indicators,
          ...(accepted.provenance ? { kind: accepted.kind, provenance: accepted.provenance } : {}),
          ...(accepted.warnings.length > 0 ? { warnings: toOperationOutcome(accepted.warnings, lang) } : {}),
        });
      }
      const [first] = results;
      if (!first) throw new Error('no record to answer for');
      // One record answers as itself; a native row that held several records lists them all.
      return reply.code(202).header('location', first.links.self).send(results.length === 1 ? first : { records: results });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/records/:id',
    { schema: { params: { type: 'object', properties: { id: { type: 'string', maxLength: 64 } } } } },
    async (req) => {
      const stored = await services.ledger.get(req.params.id).catch((cause: unknown) => {
        throw new GerbangError('store.unavailable', [], { cause, retryAfterSeconds: 5 });
      });
      if (!stored) {
        throw new GerbangError('record.not-found', [{ key: 'record.not-found', severity: 'error', params: { id: req.params.id } }]);
      }
      return present(stored);
    },
  );
}

function present(r: StoredRecord) {
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
    status: overallState(r),
    indicators: r.indicators,
    ...(r.provenance ? { provenance: r.provenance } : {}),
    upstreams: r.upstreams,
    links: { self: `/v1/records/${r.id}` },
  };
}

/** One word for the whole record: the least advanced state among its upstreams. */
export function overallState(r: Pick<StoredRecord, 'upstreams'>): UpstreamState {
  const states = Object.values(r.upstreams).map((u) => u.state);
  for (const s of ['failed', 'retrying', 'sending', 'queued'] as const) if (states.includes(s)) return s;
  return 'synced';
}
