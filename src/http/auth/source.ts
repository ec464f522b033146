import type { FastifyRequest } from 'fastify';
import { GerbangError } from '../../errors/gerbang-error.js';
import type { Caller } from './authenticate.js';

/**
 * The app a request speaks for: `?source=`, else the key's own app, else `default` (canonical
 * records). A key bound to an app cannot post as another app: the source is half of the
 * idempotency key, so that would let it overwrite another app's records.
 */
export function sourceOf(req: FastifyRequest<{ Querystring: { source?: string } }>, caller: Caller): string {
  const asked = req.query.source;
  if (caller.source && asked && asked !== caller.source) {
    throw new GerbangError('auth.forbidden', [{ key: 'auth.forbidden', severity: 'error', path: 'source', params: { role: caller.role } }]);
  }
  return asked ?? caller.source ?? 'default';
}
