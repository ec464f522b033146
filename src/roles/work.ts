import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { closeParts, compose, startDelivery, type Running } from './compose.js';

/**
 * `gerbang worker`: only the delivery side, to push with more processes than the one that serves.
 * It shares the serving gateway's Redis and PostgreSQL (and their private servers, which it never
 * stops).
 */
export async function work(config: Config, logger: Logger): Promise<Running> {
  const parts = await compose(config, logger, 'worker');
  const delivery = startDelivery(parts);
  logger.info({ upstreams: config.upstreams.map((u) => u.name), concurrency: config.delivery.concurrency }, 'worker started: delivering');
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= closeParts(parts, { delivery, stopPrivateServers: false }));
  return { app: undefined, url: undefined, redisUrl: parts.redisUrl, close };
}
