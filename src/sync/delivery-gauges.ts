import type { Redis } from 'ioredis';
import type { DeliveryGauges } from '../metrics/metrics.js';
import { aggKeys } from './aggregates.js';
import { CIRCUIT_GAUGE, circuitKey, type CircuitState } from './circuit.js';
import type { DeliveryQueues } from './queues.js';

/** The delivery gauges /metrics shows, read from the store at scrape time (circuits are shared by every worker). */
export function deliveryGauges(redis: Redis, queues?: DeliveryQueues): DeliveryGauges {
  return {
    circuit: async (u) => CIRCUIT_GAUGE[((await redis.hget(circuitKey(u), 'state')) as CircuitState | null) ?? 'closed'],
    ...(queues ? { queueJobs: (u: string) => queues.queue(u).getJobCounts('waiting', 'active', 'delayed', 'prioritized') } : {}),
    backlogRecords: (u) => redis.zcard(aggKeys.backlog(u)),
    backlogOldestAtMs: async (u) => {
      const [, score] = await redis.zrange(aggKeys.backlog(u), 0, 0, 'WITHSCORES');
      return score ? Number(score) : undefined;
    },
  };
}
