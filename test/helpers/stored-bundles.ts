import type { Redis } from 'ioredis';
import type { Config } from '../../src/config/types.js';
import { payloadKeyRing } from '../../src/roles/payload-keys.js';
import { PayloadCipher } from '../../src/sync/payload-cipher.js';
import { StoredPayload } from '../../src/sync/stored-payload.js';

/** The JSON text of the Bundles the ledger keeps (sealed) for these records: what the worker sends. */
export async function storedBundles(redis: Redis, config: Config, ids: string[]): Promise<string[]> {
  const payload = new StoredPayload(new PayloadCipher(payloadKeyRing(config).ring));
  return Promise.all(
    ids.map(async (id) => {
      const [bundle, source, recordId] = await redis.hmgetBuffer(`g:rec:${id}`, 'bundle', 'source', 'recordId');
      return bundle ? JSON.stringify(payload.openBundle(source?.toString() ?? '', recordId?.toString() ?? '', bundle)) : '{}';
    }),
  );
}
