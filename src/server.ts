import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from './config/types.js';
import { buildApp } from './http/app.js';
import { closeDirectory, privateUmask, secretIn } from './runtime/data-dir.js';
import { storedPayloadFor } from './runtime/payload-keys.js';
import { startPrivateRedis, type PrivateRedis } from './runtime/private-redis.js';
import { GatewayMetrics } from './metrics/metrics.js';
import { BulkReplays } from './sync/bulk-replay.js';
import { Dispatcher } from './sync/dispatcher.js';
import { DeliveryQueues } from './sync/queues.js';
import { RetentionSweeper } from './sync/retention.js';
import { StorePressure } from './sync/store-pressure.js';
import { registryFor, type AdapterRegistry, type ReloadReport } from './records/adapters/registry.js';
import { SubjectHistoryStore } from './sync/subject-history.js';
import { storeKeys } from './sync/store/keys.js';
import { RedisLedger } from './sync/store/redis-ledger.js';
import { SyncStatus } from './sync/sync-status.js';
import { DeliveryWorkers } from './sync/worker.js';
import { createUpstream } from './upstream/create-upstream.js';
import type { Upstream } from './upstream/upstream.js';

export interface Running {
  app: FastifyInstance | undefined;
  url: string | undefined;
  redisUrl: string;
  close(): Promise<void>;
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

// Producers must fail fast when Redis is away (a 503 the app retries), not queue commands in
// memory and hang; workers block on Redis and must retry forever (BullMQ's production guide).
// Auto-pipelining sends the commands of concurrent requests in one write: one syscall instead of
// one per command under load.
function producerConnection(url: string, logger: Logger): Redis {
  const r = new Redis(url, { enableAutoPipelining: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 2_000, connectTimeout: 2_000, retryStrategy: (n) => Math.min(n * 200, 2_000) });
  r.on('error', (err) => logger.debug({ err }, 'redis (ingest) connection error'));
  return r;
}

/** Waits for the first connection; without it every ingest would answer 503 from the start. */
async function untilReady(redis: Redis, url: string): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Redis at ${new URL(url).host} did not answer within 15 s`)), 15_000);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function workerConnection(url: string, logger: Logger): Redis {
  const r = new Redis(url, { enableAutoPipelining: true, maxRetriesPerRequest: null, retryStrategy: (n) => Math.min(n * 200, 2_000) });
  r.on('error', (err) => logger.debug({ err }, 'redis (worker) connection error'));
  return r;
}

/**
 * Starts the gateway: HTTP ingest, and the delivery worker unless it runs in its own processes.
 * `mode: 'worker'` starts only the worker (`gerbang worker`).
 */
export async function start(config: Config, logger: Logger, mode: 'serve' | 'worker' = 'serve'): Promise<Running> {
  logStartup(config, logger, mode);
  protectFiles(config);
  const payload = storedPayloadFor(config, logger);
  const { url: redisUrl, privateRedis } = await redisFor(config, logger);
  const upstreamNames = config.upstreams.map((u) => u.name);
  const producer = producerConnection(redisUrl, logger);
  await untilReady(producer, redisUrl);
  const keys = storeKeys(config.redis.keyPrefix, config.redis.queuePrefix);
  const ledger = new RedisLedger(producer, keys, payload);
  const queues = new DeliveryQueues(producer, upstreamNames, keys, ledger);
  // Every process runs a dispatcher (only one works at a time), so accepted records become jobs
  // whether or not this process also pushes them.
  const dispatcher = new Dispatcher({ redis: producer, keys, ledger, queues, upstreams: upstreamNames, logger });
  dispatcher.start();

  const metrics = new GatewayMetrics({ redis: producer, keys, ledger, queues, upstreams: upstreamNames });
  // Token and identity caches wait out a Redis restart like the workers do, instead of failing a push.
  const upstreamRedis = workerConnection(redisUrl, logger);
  const upstreams: Upstream[] = config.upstreams.map((u) =>
    createUpstream(u, { redis: upstreamRedis, maxRetryAfterSeconds: config.delivery.maxRetryAfterSeconds, onTokenRefresh: (upstream) => metrics.tokenRefreshes.inc({ upstream }) }),
  );
  const pressure = new StorePressure(producer, config.store.highWaterPercent, logger);
  const replays = new BulkReplays({ redis: producer, ledger, search: ledger, config, logger, keys });

  let workers: DeliveryWorkers | undefined;
  let workerRedis: Redis | undefined;
  let retention: RetentionSweeper | undefined;
  if (mode === 'worker' || config.delivery.runWorker) {
    workerRedis = workerConnection(redisUrl, logger);
    workers = new DeliveryWorkers({
      connection: workerRedis,
      keys,
      ledger: new RedisLedger(workerRedis, keys, payload),
      upstreams,
      upstreamConfigs: config.upstreams,
      delivery: config.delivery,
      logger,
      metrics,
    });
    workers.start();
    replays.startWorker(workerRedis);
    retention = new RetentionSweeper({ ledger: new RedisLedger(workerRedis, keys, payload), retention: config.retention, logger, pressure });
    retention.start();
  }

  let app: FastifyInstance | undefined;
  let url: string | undefined;
  let adapters: AdapterRegistry | undefined;
  let stopWatching: (() => void) | undefined;
  if (mode === 'serve') {
    adapters = registryFor(config);
    logAdapters(adapters.reload(), logger);
    if (config.adapters.watch) stopWatching = adapters.watch((report) => logAdapters(report, logger));
    const services = { config, adapters, ledger, history: new SubjectHistoryStore(producer, config.security.historyKey ?? secretIn(join(config.dataDir, 'history.key')), keys), pressure, upstreams, status: new SyncStatus(ledger, config), search: ledger, replays, metrics };
    app = buildApp(services, logger, { rateLimitRedis: producer });
    url = await app.listen({ host: config.server.host, port: config.server.port });
  }

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await app?.close(); // stop taking records, finish the requests in flight
      stopWatching?.();
      await dispatcher.close(); // the inbox keeps what is not yet a job
      await workers?.close(); // finish the pushes in flight
      await retention?.close();
      await replays.close();
      await queues.close();
      await Promise.all(upstreams.map((u) => u.close()));
      producer.disconnect();
      upstreamRedis.disconnect();
      workerRedis?.disconnect();
      // Only the serving gateway owns a private Redis; `gerbang worker` processes share it.
      if (mode === 'serve') await privateRedis?.stop();
      logger.info('stopped');
    })());
  return { app, url, redisUrl, close };
}

/** The adapters served, and each file refused with its place (the others are served all the same). */
function logAdapters(report: ReloadReport, logger: Logger): void {
  logger.info({ adapters: report.loaded.map((a) => a.name), kept: report.kept.map((a) => a.name), removed: report.removed }, 'adapters loaded');
  for (const p of report.refused) logger.error({ file: p.file, line: p.line, column: p.column, pointer: p.pointer, problem: p.message }, 'adapter file refused');
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
