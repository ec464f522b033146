import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { clusterSeeds } from '../config/redis-cluster.js';

// The gateway's connections to Redis: one server (REDIS_URL, or the private redis-server), or a
// Redis Cluster (redis.cluster: REDIS_URL names some of its nodes, the client learns the rest and
// follows the slots as they move). Both are ioredis clients with the same commands, so the parts
// that keep queues, caches, circuits, budgets and locks in Redis take either.

export type RedisConnection = Redis | Cluster;

export interface RedisTarget {
  /** a redis:// URL; for a cluster, one or more, comma-separated */
  url: string;
  cluster: boolean;
}

/** Where a connection goes, for a log line or an error: hosts only, never a password. */
export function describeTarget(target: RedisTarget): string {
  if (!target.cluster) return new URL(target.url).host;
  return `cluster ${clusterSeeds(target.url).nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
}

function connect(target: RedisTarget, options: RedisOptions & { retryStrategy: (times: number) => number }): RedisConnection {
  if (!target.cluster) return new Redis(target.url, options);
  const seeds = clusterSeeds(target.url);
  const { enableAutoPipelining, enableOfflineQueue, retryStrategy, ...perNode } = options;
  return new Cluster(seeds.nodes, {
    ...(enableAutoPipelining !== undefined ? { enableAutoPipelining } : {}),
    ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
    // The cluster, not each node, reconnects; a node's own retries are the cluster's to decide.
    clusterRetryStrategy: retryStrategy,
    // With TLS the certificates name the nodes' host names, which the client must keep using
    // instead of the addresses they resolve to (ioredis' advice for managed clusters).
    ...(seeds.tls ? { dnsLookup: (address: string, callback: (err: null, address: string) => void) => callback(null, address) } : {}),
    redisOptions: {
      ...perNode,
      ...(seeds.username ? { username: seeds.username } : {}),
      ...(seeds.password ? { password: seeds.password } : {}),
      ...(seeds.tls ? { tls: {} } : {}),
    },
  });
}

// Producers must fail fast when Redis is away (a 503 the app retries), not queue commands in
// memory and hang; workers block on Redis and must retry forever (BullMQ's production guide).
// Auto-pipelining sends the commands of concurrent requests in one write: one syscall instead of
// one per command under load (on a cluster, one per node).
export function producerConnection(target: RedisTarget, logger: Logger): RedisConnection {
  const r = connect(target, { enableAutoPipelining: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 2_000, connectTimeout: 2_000, retryStrategy: (n) => Math.min(n * 200, 2_000) });
  r.on('error', (err) => logger.debug({ err }, 'redis (ingest) connection error'));
  return r;
}

export function workerConnection(target: RedisTarget, logger: Logger): RedisConnection {
  const r = connect(target, { enableAutoPipelining: true, maxRetriesPerRequest: null, retryStrategy: (n) => Math.min(n * 200, 2_000) });
  r.on('error', (err) => logger.debug({ err }, 'redis (worker) connection error'));
  return r;
}

/** Waits for the first connection; without it every ingest would answer 503 from the start. */
export async function untilReady(redis: RedisConnection, target: RedisTarget): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Redis at ${describeTarget(target)} did not answer within 15 s`)), 15_000);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
