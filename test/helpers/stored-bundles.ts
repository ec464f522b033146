import type { Redis } from 'ioredis';
import type { Config } from '../../src/config/types.js';
import { RECORD_FIELDS as F } from '../../src/sync/store/keys.js';
import { keysOf, payloadOf } from './store.js';

/** The JSON text of the Bundles the ledger keeps (sealed) for these records: what the worker sends. */
export async function storedBundles(redis: Redis, config: Config, ids: string[]): Promise<string[]> {
  const payload = payloadOf(config);
  const keys = keysOf(config);
  return Promise.all(
    ids.map(async (id) => {
      const [bundle, source, recordId] = await redis.hmgetBuffer(keys.record(id), F.bundle, F.source, F.recordId);
      return bundle ? JSON.stringify(payload.openBundle(source?.toString() ?? '', recordId?.toString() ?? '', bundle)) : '{}';
    }),
  );
}
