import { GerbangError } from '../../errors/gerbang-error.js';
import { recordSchemas } from '../../records/schemas/index.js';
import type { Caller } from '../auth/authenticate.js';
import type { Services } from '../services.js';
import { timeRange } from './query.js';

// The filter of the failures list (GET /v1/sync/failures) and of the bulk replay
// (POST /v1/records/$retry): one set of parameters, checked against the key's scope the same way.

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

export function knownUpstream(services: Services, name: string): void {
  if (!services.config.upstreams.some((u) => u.name === name)) {
    throw new GerbangError('request.invalid-parameter', [{ key: 'request.invalid-parameter', severity: 'error', path: 'upstream', params: { reason: `no upstream named "${name}"` } }]);
  }
}

function scopeError(level: string, code: string): GerbangError {
  return new GerbangError('auth.out-of-scope', [{ key: 'auth.scope-unknown', severity: 'error', path: level, params: { value: code } }]);
}
