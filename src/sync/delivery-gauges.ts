import type { Cluster, Redis } from 'ioredis';
import type { DeliveryGauges } from '../metrics/metrics.js';
import { CIRCUIT_GAUGE, circuitState } from './circuit.js';
import type { LedgerCounts } from './ledger.js';
import type { DeliveryQueues } from './queues.js';
import type { StoreKeys } from './store/keys.js';

/** The delivery gauges /metrics shows, read from the store at scrape time (circuits are shared by every worker). */
export function deliveryGauges(deps: { redis: Redis | Cluster; keys: StoreKeys; ledger: Pick<LedgerCounts, 'backlog'>; queues?: DeliveryQueues }): DeliveryGauges {
  const { redis, keys, ledger, queues } = deps;
  return {
    circuit: async (u) => CIRCUIT_GAUGE[await circuitState(redis, keys.circuit(u))],
    ...(queues ? { queueJobs: (u: string) => queues.queue(u).getJobCounts('waiting', 'active', 'delayed', 'prioritized') } : {}),
    backlogRecords: async (u) => (await ledger.backlog(u)).records,
    backlogOldestAtMs: async (u) => (await ledger.backlog(u)).oldestAcceptedMs,
  };
}
