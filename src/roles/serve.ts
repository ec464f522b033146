import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { buildApp } from '../http/app.js';
import { secretIn } from '../runtime/data-dir.js';
import { SubjectHistoryStore } from '../sync/subject-history.js';
import { SyncStatus } from '../sync/sync-status.js';
import { closeParts, compose, startDelivery, type Delivery, type Running } from './compose.js';

/**
 * `gerbang serve`: the HTTP gateway, and the delivery worker in the same process unless
 * `delivery.runWorker` is false (then `gerbang worker` processes push). It owns the private
 * Redis when there is one.
 */
export async function serve(config: Config, logger: Logger): Promise<Running> {
  const parts = await compose(config, logger, 'serve');
  const delivery: Delivery | undefined = config.delivery.runWorker ? startDelivery(parts) : undefined;
  const { producer, tables } = parts;
  const history = new SubjectHistoryStore(producer, config.security.historyKey ?? secretIn(join(config.dataDir, 'history.key')), tables.historyRetention);
  const services = { config, ledger: parts.ledger, history, pressure: parts.pressure, upstreams: parts.upstreams, status: new SyncStatus(producer, config, tables.syncHealth), search: parts.search, replays: parts.replays, metrics: parts.metrics };
  const app: FastifyInstance = buildApp(services, logger, { rateLimitRedis: producer });
  const url = await app.listen({ host: config.server.host, port: config.server.port });

  let closing: Promise<void> | undefined;
  // stop taking records and finish the requests in flight first
  const close = () => (closing ??= closeParts(parts, { before: () => app.close(), ...(delivery ? { delivery } : {}), stopPrivateRedis: true }));
  return { app, url, redisUrl: parts.redisUrl, close };
}
