import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config, PayloadKeysConfig } from '../config/types.js';
import { PayloadCipher } from '../sync/payload-cipher.js';
import { StoredPayload } from '../sync/stored-payload.js';
import { secretIn } from '../runtime/data-dir.js';

/**
 * The id of a key generated into a data directory: named after a digest of the key, so that a
 * process that generated another one (a worker started with its own data directory) finds its
 * id unknown, `payload.key-missing`, retried until the operator shares the key, instead of
 * taking a value sealed under the same name with other bytes for a tampered one.
 */
export function generatedKeyId(key: string): string {
  return `local-${createHash('sha256').update(key).digest('hex').slice(0, 8)}`;
}

/** security.payloadKeys, or a key ring of the one key generated once into `dataDir/payload.key` (0600). */
export function payloadKeyRing(config: Config): { ring: PayloadKeysConfig; generatedIn?: string } {
  if (config.security.payloadKeys) return { ring: config.security.payloadKeys };
  const file = join(config.dataDir, 'payload.key');
  const key = secretIn(file);
  const id = generatedKeyId(key);
  return { ring: { current: id, keys: { [id]: key } }, generatedIn: file };
}

/** The sealing of stored payloads for this process; the log says which key, never the key. */
export function storedPayloadFor(config: Config, logger: Logger): StoredPayload {
  const { ring, generatedIn } = payloadKeyRing(config);
  if (generatedIn) {
    logger.info(
      { payloadKey: ring.current, file: generatedIn },
      'security.payloadKeys not set: stored payloads are sealed with a key kept in the data directory (every gateway and worker sharing this ledger needs the same key)',
    );
  } else {
    logger.info({ payloadKey: ring.current, keys: Object.keys(ring.keys) }, 'stored payloads are sealed with security.payloadKeys');
  }
  return new StoredPayload(new PayloadCipher(ring));
}
