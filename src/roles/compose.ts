import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Cluster } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { GatewayMetrics } from '../metrics/metrics.js';
import { recordSchemas } from '../records/schemas/index.js';
import { closeDirectory, privateUmask } from '../runtime/data-dir.js';
import { storedPayloadFor } from './payload-keys.js';
import { startPrivateRedis, type PrivateRedis } from '../runtime/private-redis.js';
import { describeTarget, producerConnection, untilReady, workerConnection, type RedisConnection, type RedisTarget } from '../runtime/redis-connections.js';
import { BulkReplays } from '../sync/bulk-replay.js';
import { deliveryGauges } from '../sync/delivery-gauges.js';
import { Dispatcher } from '../sync/dispatcher.js';
import type { Ledger } from '../sync/ledger.js';
import type { StoredPayload } from '../sync/stored-payload.js';
import { DeliveryQueues } from '../sync/queues.js';
import type { RecordSearch } from '../sync/record-search.js';
import { RetentionSweeper } from '../sync/retention.js';
import { StorePressure } from '../sync/store-pressure.js';
import { storeKeys, type StoreKeys } from '../sync/store/keys.js';
import { DeliveryWorkers } from '../sync/worker.js';
import { Corrections } from '../upstream/corrections.js';
import { createUpstream } from '../upstream/create-upstream.js';
import type { Upstream } from '../upstream/upstream.js';
import { expiringStores, replayTaskStore, type BesideLedger } from './stores.js';
import { openLedgerStore, type LedgerStore } from './ledger-store.js';
import { loadTables, type Tables } from './tables.js';

// What both process roles (serve.ts, work.ts) are made of: the tables, the store, the queues, the
// dispatcher, the upstreams and the metrics. Each role adds its own part and closes what it made.

export interface Running {
  app: FastifyInstance | undefined;
  url: string | undefined;
  redisUrl: string;
  close(): Promise<void>;
}

export interface Parts {
  config: Config;
  logger: Logger;
  tables: Tables;
  /** seals and opens the stored payloads (every ledger connection of the process uses it) */
  payload: StoredPayload;
  /** every Redis key the process writes, under the configured prefixes */
  keys: StoreKeys;
  redisUrl: string;
  /** the server or cluster every connection of the process goes to */
  redisTarget: RedisTarget;
  privateRedis: PrivateRedis | undefined;
  /** commands of requests: fail fast when Redis is away */
  producer: RedisConnection;
  /** the token and identity caches: wait out a Redis restart */
  upstreamRedis: RedisConnection;
  /** where the ledger is kept (ledger.store): its pool and private PostgreSQL, if any */
  store: LedgerStore;
  /** the ledger of requests (fails fast when its store is away) */
  ledger: Ledger;
  queues: DeliveryQueues;
  dispatcher: Dispatcher;
  metrics: GatewayMetrics;
  upstreams: Upstream[];
  pressure: StorePressure;
  search: RecordSearch;
  replays: BulkReplays;
  /** where the person histories and the replay tasks are kept (roles/stores.ts) */
  besideLedger: BesideLedger;
}

/** Redis for this process: the one REDIS_URL names, or a private redis-server under the data dir. */
async function redisFor(config: Config, logger: Logger): Promise<{ url: string; privateRedis?: PrivateRedis }> {
  if (config.redisUrl) return { url: config.redisUrl };
  const privateRedis = await startPrivateRedis(join(config.dataDir, 'redis'), { maxmemoryMb: config.store.maxmemoryMb });
  logger.info(
    { redis: new URL(privateRedis.url).host, maxmemoryMb: config.store.maxmemoryMb, dataDir: config.dataDir, reused: privateRedis.reused },
    privateRedis.reused ? 'REDIS_URL not set: took over the private redis-server left running' : 'REDIS_URL not set: started a private redis-server (append-only file on)',
  );
  return { url: privateRedis.url, privateRedis };
}

/** The parts every role needs, started: a broken table or an unreachable Redis stops the process here. */
export async function compose(config: Config, logger: Logger, role: 'serve' | 'worker'): Promise<Parts> {
  logStartup(config, logger, role);
  const tables = loadTables();
  protectFiles(config);
  const payload = storedPayloadFor(config, logger);
  const { url: redisUrl, privateRedis } = await redisFor(config, logger);
  const upstreamNames = config.upstreams.map((u) => u.name);
  const redisTarget: RedisTarget = { url: redisUrl, cluster: config.redis.cluster };
  if (redisTarget.cluster) logger.info({ redis: describeTarget(redisTarget), keyPrefix: config.redis.keyPrefix, queuePrefix: config.redis.queuePrefix }, 'Redis Cluster: every key under the hash-tagged prefixes');
  const producer = producerConnection(redisTarget, logger);
  await untilReady(producer, redisTarget);
  const keys = storeKeys(config.redis.keyPrefix, config.redis.queuePrefix);
  const store = await openLedgerStore(config, logger, payload, keys);
  const ledger = store.ledger('requests', producer);
  const queues = new DeliveryQueues(producer, upstreamNames, keys, ledger);
  // Every process runs a dispatcher (only one works at a time), so accepted records become jobs
  // whether or not this process also pushes them.
  const dispatcher = new Dispatcher({ redis: producer, keys, ledger, queues, upstreams: upstreamNames, logger });
  dispatcher.start();

  const metrics = new GatewayMetrics({ kinds: Object.keys(recordSchemas), upstreams: upstreamNames, gauges: deliveryGauges({ redis: producer, keys, ledger, queues }) });
  // Token and identity caches wait out a Redis restart like the workers do, instead of failing a push.
  const upstreamRedis = workerConnection(redisTarget, logger);
  const corrections = new Corrections(tables.withdrawals);
  const posyanduLocations = Object.fromEntries(Object.entries(config.facilities.posyandu).flatMap(([code, p]) => (p.locationId ? [[code, p.locationId]] : [])));
  const upstreams: Upstream[] = config.upstreams.map((u) =>
    createUpstream(u, { redis: upstreamRedis, keyPrefix: config.redis.keyPrefix, corrections, posyanduLocations, maxRetryAfterSeconds: config.delivery.maxRetryAfterSeconds, onTokenRefresh: (upstream) => metrics.tokenRefreshes.inc({ upstream }) }),
  );
  const pressure = new StorePressure(producer, config.store.highWaterPercent, logger);
  // The ledger answers the searches too (one owner of the stored records).
  const search: RecordSearch = ledger;
  const besideLedger: BesideLedger = store.pool ? { kind: 'postgres', pool: store.pool } : { kind: 'redis', redis: producer, keys };
  const replays = new BulkReplays({ redis: producer, queuePrefix: keys.queuePrefix, tasks: replayTaskStore(besideLedger), ledger, search, config, logger });
  return { config, logger, tables, payload, keys, redisUrl, redisTarget, privateRedis, producer, upstreamRedis, store, ledger, queues, dispatcher, metrics, upstreams, pressure, search, replays, besideLedger };
}

export interface Delivery {
  /** finishes the pushes in flight and stops the sweep */
  stop(): Promise<void>;
  /** after the replays are closed too */
  disconnect(): void;
}

/** The delivery side: the workers that push, the bulk replays, and the retention sweep. */
export function startDelivery(parts: Parts): Delivery {
  const { config, logger } = parts;
  const workerRedis = workerConnection(parts.redisTarget, logger);
  const workers = new DeliveryWorkers({
    connection: workerRedis,
    keys: parts.keys,
    ledger: parts.store.ledger('delivery', workerRedis),
    upstreams: parts.upstreams,
    upstreamConfigs: config.upstreams,
    delivery: config.delivery,
    logger,
    metrics: parts.metrics,
  });
  workers.start();
  parts.replays.startWorker(workerRedis);
  const retention = new RetentionSweeper({ ledger: parts.store.ledger('delivery', workerRedis), retention: config.retention, logger, pressure: parts.pressure, expiring: expiringStores(parts.besideLedger) });
  retention.start();
  return {
    async stop() {
      await workers.close(); // finish the pushes in flight
      await retention.close();
    },
    disconnect: () => workerRedis.disconnect(),
  };
}

/**
 * Closes the shared parts, after the role has stopped taking records (`before`) and `delivery`
 * has finished its pushes. Only the serving gateway owns the private Redis and PostgreSQL;
 * `gerbang worker` processes share them.
 */
export async function closeParts(parts: Parts, steps: { before?: () => Promise<void>; delivery?: Delivery; stopPrivateServers: boolean }): Promise<void> {
  await steps.before?.();
  await parts.dispatcher.close(); // the inbox keeps what is not yet a job
  await steps.delivery?.stop();
  await parts.replays.close();
  await parts.queues.close();
  await Promise.all(parts.upstreams.map((u) => u.close()));
  parts.producer.disconnect();
  parts.upstreamRedis.disconnect();
  steps.delivery?.disconnect();
  // after everything that used the pool has stopped: the workers, the dispatcher, the replays
  await parts.store.close({ stopPrivatePostgres: steps.stopPrivateServers });
  if (steps.stopPrivateServers) await parts.privateRedis?.stop();
  parts.logger.info('stopped');
}


/** The data directory and the outbox directories: this user's only, now and for what is written later. */
function protectFiles(config: Config): void {
  privateUmask();
  closeDirectory(config.dataDir);
  for (const u of config.upstreams) if (u.kind === 'outbox') closeDirectory(u.directory);
}

function logStartup(config: Config, logger: Logger, mode: string): void {
  logger.info(
    {
      mode,
      configuration: config.origin === 'file' ? 'GERBANG_CONFIG' : 'none (local defaults)',
      listen: mode === 'serve' ? `${config.server.host}:${config.server.port}` : undefined,
      upstreams: config.upstreams.map((u) => `${u.name} (${u.kind})`),
      facilities: { puskesmas: Object.keys(config.facilities.puskesmas).length, posyandu: Object.keys(config.facilities.posyandu).length },
      worker: mode === 'worker' || config.delivery.runWorker ? 'in this process' : 'separate processes',
    },
    config.origin === 'file'
      ? 'starting with the configuration file'
      : 'starting without GERBANG_CONFIG: outbox upstream, demo facility registry, no API keys, listening on 127.0.0.1 only',
  );
}
