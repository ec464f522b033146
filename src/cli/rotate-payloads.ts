import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { Config } from '../config/types.js';
import { privateUmask } from '../runtime/data-dir.js';
import { storedPayloadFor } from '../roles/payload-keys.js';
import { startPrivateRedis } from '../runtime/private-redis.js';
import { openLedgerStore } from '../roles/ledger-store.js';
import { rewriteAppendOnlyFile, rotatePayloads, type RotationReport } from '../sync/payload-rotation.js';
import { rotatePgPayloads } from '../sync/pg/pg-payload-rotation.js';
import { storeKeys } from '../sync/store/keys.js';

/**
 * `gerbang keys rotate-payloads`: seals every stored payload again with the current key of
 * security.payloadKeys, in the ledger the configuration names: PostgreSQL (DATABASE_URL, or the
 * private server of the data directory) or Redis (REDIS_URL, or the private Redis of the data
 * directory; the running gateway's, or started for the command and stopped after it). Exit 1 when some values cannot be
 * opened: their key is missing from the configuration (or they were changed); nothing is lost,
 * they stay as they are until the key is added back and the command runs again.
 */
export async function rotatePayloadsCommand(config: Config): Promise<number> {
  privateUmask();
  // The key choice goes to stderr like every other line of this command; stdout stays for the report.
  const logger = pino({ base: undefined, timestamp: false }, pino.destination(2));
  const payload = storedPayloadFor(config, logger);
  if (config.ledger.store === 'postgres') {
    // DATABASE_URL, or the private PostgreSQL of the data directory (the running gateway's, or started for the command)
    const store = await openLedgerStore(config, logger, payload, storeKeys(config.redis.keyPrefix, config.redis.queuePrefix));
    try {
      const report = await rotatePgPayloads(store.pool!, payload);
      console.log(JSON.stringify({ currentKey: payload.cipher.currentKeyId, ...report }, null, 2));
      console.error(summary(report, payload.cipher.currentKeyId));
      return Object.keys(report.unreadable).length > 0 ? 1 : 0;
    } finally {
      await store.close({ stopPrivatePostgres: store.privatePostgres !== undefined && !store.privatePostgres.reused });
    }
  }
  // The Redis ledger's payloads; the configuration allows a cluster only with the ledger elsewhere.
  if (config.redis.cluster) throw new Error('gerbang keys rotate-payloads reseals the payloads of the Redis ledger, which does not run on a Redis Cluster');
  const privateRedis = config.redisUrl ? undefined : await startPrivateRedis(join(config.dataDir, 'redis'), { maxmemoryMb: config.store.maxmemoryMb });
  const redis = new Redis(config.redisUrl ?? privateRedis!.url, { maxRetriesPerRequest: 3 });
  try {
    const report = await rotatePayloads(redis, payload, storeKeys(config.redis.keyPrefix, config.redis.queuePrefix));
    const appendOnlyFileRewrite = await rewriteAppendOnlyFile(redis);
    console.log(JSON.stringify({ currentKey: payload.cipher.currentKeyId, ...report, appendOnlyFileRewrite }, null, 2));
    console.error(summary(report, payload.cipher.currentKeyId));
    return Object.keys(report.unreadable).length > 0 ? 1 : 0;
  } finally {
    redis.disconnect();
    // A server the running gateway owns is left to it.
    if (privateRedis && !privateRedis.reused) await privateRedis.stop();
  }
}

function summary(r: RotationReport, current: string): string {
  const lines = [`${r.records} records looked at, ${r.resealed} values sealed again with key "${current}"${r.changedMeanwhile ? `, ${r.changedMeanwhile} written anew by the gateway meanwhile` : ''}.`];
  for (const [keyId, u] of Object.entries(r.unreadable)) {
    lines.push(
      u.reason === 'key-missing'
        ? `${u.count} values are sealed with key "${keyId}", which is not in security.payloadKeys: add it back and run this again before removing it (records ${u.examples.join(', ')}).`
        : `${u.count} values sealed with key "${keyId}" fail their integrity check (changed after they were written); they cannot be read (records ${u.examples.join(', ')}).`,
    );
  }
  if (Object.keys(r.unreadable).length === 0) lines.push(`Every stored payload is sealed with "${current}": older keys may be removed from security.payloadKeys (restart the gateway after).`);
  return lines.join('\n');
}
