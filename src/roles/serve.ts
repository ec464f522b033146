import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { buildApp } from '../http/app.js';
import { RecordBudget } from '../http/auth/record-budget.js';
import { registryFor, type ReloadReport } from '../records/adapters/registry.js';
import { SyncStatus } from '../sync/sync-status.js';
import { closeParts, compose, startDelivery, type Delivery, type Running } from './compose.js';
import { subjectHistoryStore } from './stores.js';

/**
 * `gerbang serve`: the HTTP gateway, and the delivery worker in the same process unless
 * `delivery.runWorker` is false (then `gerbang worker` processes push). It owns the private
 * Redis and the private PostgreSQL when there are.
 */
export async function serve(config: Config, logger: Logger): Promise<Running> {
  const parts = await compose(config, logger, 'serve');
  const delivery: Delivery | undefined = config.delivery.runWorker ? startDelivery(parts) : undefined;
  const { producer, tables } = parts;
  const history = subjectHistoryStore(parts.besideLedger, config, tables.historyRetention);
  const adapters = registryFor(config);
  logAdapters(adapters.reload(), logger);
  const stopWatching = config.adapters.watch ? adapters.watch((report) => logAdapters(report, logger)) : undefined;
  // Without keys there is no caller to budget (the gateway listens on loopback only).
  const budget = config.apiKeys.length > 0 ? { budget: new RecordBudget(producer, config.server.recordsPerMinute, parts.keys) } : {};
  // Readiness: Redis (through the Redis ledger, or the producer when the ledger is elsewhere) and the ledger's store.
  const readiness = [{ name: 'redis', ping: async () => void (await producer.ping()) }, ...parts.store.readiness];
  const services = { config, adapters, ledger: parts.ledger, readiness, ...budget, history, pressure: parts.pressure, upstreams: parts.upstreams, status: new SyncStatus(parts.ledger, config, tables.syncHealth), search: parts.search, replays: parts.replays, metrics: parts.metrics };
  const app: FastifyInstance = buildApp(services, logger, { redis: producer, keys: parts.keys });
  const url = await app.listen({ host: config.server.host, port: config.server.port });

  let closing: Promise<void> | undefined;
  // stop taking records and finish the requests in flight first
  const close = () => (closing ??= closeParts(parts, { before: async () => {
          await app.close();
          stopWatching?.();
        }, ...(delivery ? { delivery } : {}), stopPrivateServers: true }));
  return { app, url, redisUrl: parts.redisUrl, close };
}

/** The adapters served, and each file refused with its place (the others are served all the same). */
function logAdapters(report: ReloadReport, logger: Logger): void {
  logger.info({ adapters: report.loaded.map((a) => a.name), kept: report.kept.map((a) => a.name), removed: report.removed }, 'adapters loaded');
  for (const p of report.refused) logger.error({ file: p.file, line: p.line, column: p.column, pointer: p.pointer, problem: p.message }, 'adapter file refused');
}
