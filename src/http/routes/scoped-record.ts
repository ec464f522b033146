import { GerbangError, storeUnavailable } from '../../errors/gerbang-error.js';
import type { StoredRecord } from '../../sync/ledger.js';
import { outOfScope, type Caller } from '../auth/authenticate.js';
import type { Services } from '../services.js';

export const idParams = { type: 'object', properties: { id: { type: 'string', maxLength: 64 } } } as const;

/** A record the caller may see; 404 when there is none, 403 when it belongs to another place. */
export async function readInScope(services: Services, caller: Caller, id: string): Promise<StoredRecord> {
  const stored = await services.ledger.get(id).catch((cause: unknown) => {
    throw storeUnavailable(cause);
  });
  if (!stored) throw new GerbangError('record.not-found', [{ key: 'record.not-found', severity: 'error', params: { id } }]);
  if (!caller.scope.covers(stored)) throw outOfScope(stored.posyandu);
  return stored;
}
