import type { FastifyInstance } from 'fastify';
import { GerbangError } from '../../errors/gerbang-error.js';
import { REPLAYABLE, type UpstreamState } from '../../sync/states.js';
import { callerOf } from '../auth/authenticate.js';
import type { Services } from '../services.js';
import { failureFilter, failureFilterProperties, knownUpstream, type FailuresQuery } from './failure-filter.js';
import { idParams, readInScope } from './scoped-record.js';

/** Replays (admin): one record now, or every record a filter matches as a background task. */
export function replayRoutes(app: FastifyInstance, services: Services): void {
  app.post<{ Params: { id: string }; Querystring: { upstream?: string } }>(
    '/v1/records/:id/$retry',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['replay'],
        summary: 'Replay a failed or waiting record (at every upstream where it is, or at ?upstream=)',
        params: idParams,
        querystring: { type: 'object', additionalProperties: false, properties: { upstream: { type: 'string', maxLength: 40 } } },
      },
    },
    async (req, reply) => {
      const caller = callerOf(req);
      const record = await readInScope(services, caller, req.params.id);
      if (req.query.upstream) knownUpstream(services, req.query.upstream);
      const candidates = Object.entries(record.upstreams).filter(([u, s]) => (!req.query.upstream || u === req.query.upstream) && REPLAYABLE.includes(s.state));
      const replayed: string[] = [];
      for (const [u] of candidates) if (await services.ledger.requeue(record.id, u)) replayed.push(u);
      if (replayed.length === 0) throw new GerbangError('replay.nothing');
      req.log.info({ recordId: record.id, upstreams: replayed, by: caller.keyId }, 'record replayed');
      return reply.code(202).send({ id: record.id, replayed, links: { self: `/v1/records/${record.id}` } });
    },
  );

  app.post<{ Body: Omit<FailuresQuery, 'limit' | 'offset'> & { state?: UpstreamState } }>(
    '/v1/records/$retry',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['replay'],
        summary: 'Bulk replay by filter, in the order records were received, as a background task',
        body: { type: 'object', additionalProperties: false, properties: { ...failureFilterProperties, state: { enum: [...REPLAYABLE] } } },
      },
    },
    async (req, reply) => {
      const caller = callerOf(req);
      const body = req.body ?? {};
      const filter = { ...failureFilter(services, caller, body), ...(body.state ? { state: body.state } : {}) };
      const task = await services.replays.request({ filter, scope: caller.scope.scope, requestedBy: caller.keyId });
      req.log.info({ task: task.id, by: caller.keyId }, 'bulk replay requested');
      return reply.code(202).header('location', `/v1/replays/${task.id}`).send({ ...task, links: { self: `/v1/replays/${task.id}` } });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/replays/:id',
    { config: { access: 'admin' }, schema: { tags: ['replay'], summary: 'A bulk replay task: matched and replayed counts', params: idParams } },
    async (req) => {
      const task = await services.replays.get(req.params.id);
      if (!task) throw new GerbangError('replay.not-found', [{ key: 'replay.not-found', severity: 'error', params: { id: req.params.id } }]);
      return task;
    },
  );
}
