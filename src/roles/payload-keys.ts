import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config, PayloadKeysConfig } from '../config/types.js';
import { PayloadCipher } from '../sync/payload-cipher.js';
import { StoredPayload } from '../sync/stored-payload.js';
import { secretIn } from '../runtime/data-dir.js';

/** The id of the key generated into the data directory when security.payloadKeys is not configured. */
export const GENERATED_KEY_ID = 'local';

/** security.payloadKeys, or a key ring of the one key generated once into `dataDir/payload.key` (0600). */
export function payloadKeyRing(config: Config): { ring: PayloadKeysConfig; generatedIn?: string } {
  if (config.security.payloadKeys) return { ring: config.security.payloadKeys };
  const file = join(config.dataDir, 'payload.key');
  return { ring: { current: GENERATED_KEY_ID, keys: { [GENERATED_KEY_ID]: secretIn(file) } }, generatedIn: file };
}

/** The sealing of stored payloads for this process; the log says which key, never the key. */
export function storedPayloadFor(config: Config, logger: Logger): StoredPayload {
  const { ring, generatedIn } = payloadKeyRing(config);
  if (generatedIn) {
    logger.info(
      { payloadKey: GENERATED_KEY_ID, file: generatedIn },
      'security.payloadKeys not set: stored payloads are sealed with a key kept in the data directory (every gateway and worker sharing this Redis needs the same key)',
    );
  } else {
    logger.info({ payloadKey: ring.current, keys: Object.keys(ring.keys) }, 'stored payloads are sealed with security.payloadKeys');
  }
  return new StoredPayload(new PayloadCipher(ring));
}
