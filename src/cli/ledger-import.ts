import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { Config } from '../config/types.js';
import { privateUmask } from '../runtime/data-dir.js';
import { startPrivateRedis } from '../runtime/private-redis.js';
import { openLedgerStore } from '../roles/ledger-store.js';
import { storedPayloadFor } from '../roles/payload-keys.js';
import { GatewayRunningError, importRedisLedger, type ImportReport } from '../sync/pg/ledger-import.js';
import { storeKeys } from '../sync/store/keys.js';

/**
 * `gerbang ledger import`: the Redis ledger of a 0.3 to 0.5 gateway (REDIS_URL, or the private
 * Redis of the data directory) into the PostgreSQL ledger (DATABASE_URL, or the private
 * PostgreSQL of the data directory, migrated first). Every gerbang process on that Redis must be
 * stopped: the command refuses while one holds the dispatcher's lock (`--force` skips the check).
 * It can be run again: what is already in PostgreSQL is skipped. Exit 1 when it did not finish.
 */
export async function ledgerImportCommand(config: Config, opts: { force: boolean }): Promise<number> {
  privateUmask();
  // every line of the command goes to stderr; stdout stays for the report
  const logger = pino({ base: undefined, timestamp: false }, pino.destination(2));
  const payload = storedPayloadFor(config, logger);
  const privateRedis = config.redisUrl ? undefined : await startPrivateRedis(join(config.dataDir, 'redis'), { maxmemoryMb: config.store.maxmemoryMb });
  const redis = new Redis(config.redisUrl ?? privateRedis!.url, { maxRetriesPerRequest: 3 });
  const keys = storeKeys(config.redis.keyPrefix, config.redis.queuePrefix);
  const store = await openLedgerStore({ ...config, ledger: { ...config.ledger, store: 'postgres' } }, logger, payload, keys);
  try {
    const report = await importRedisLedger(
      { redis, keys, payload, pool: store.pool! },
      { force: opts.force, onProgress: (r) => process.stderr.write(`\r${r.records} records read, ${r.imported} imported, ${r.skipped} already there`) },
    );
    process.stderr.write('\n');
    console.log(JSON.stringify(report, null, 2));
    console.error(summary(report, config.ledger.store));
    return 0;
  } catch (err) {
    if (!(err instanceof GatewayRunningError)) throw err;
    console.error(`gerbang ledger import: ${err.message}`);
    return 1;
  } finally {
    redis.disconnect();
    await store.close({ stopPrivatePostgres: !store.privatePostgres?.reused });
    if (privateRedis && !privateRedis.reused) await privateRedis.stop();
  }
}

function summary(r: ImportReport, configured: string): string {
  const lines = [
    `${r.imported} records imported into PostgreSQL, ${r.skipped} already there; ${r.pending} deliveries not yet settled will go on from the PostgreSQL ledger; ${r.histories} person histories.`,
  ];
  if (r.keptSealed > 0) lines.push(`${r.keptSealed} values are sealed with a key this configuration does not have (security.payloadKeys): they were copied as they are, and read once that key is configured.`);
  if (!r.countsImported) lines.push('The day counts, last syncs and latencies of this key prefix were brought over by an earlier run; they were left as they are.');
  if (configured !== 'postgres') lines.push('The configuration still says ledger.store "redis": remove that line (PostgreSQL is the default) before starting the gateway again.');
  lines.push('The Redis ledger was left as it was; delete its keys once the gateway runs well on PostgreSQL.');
  return lines.join('\n');
}
