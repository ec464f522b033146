import type { Redis } from 'ioredis';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { aggKeys } from '../sync/aggregates.js';
import { CIRCUIT_GAUGE, circuitKey, type CircuitState } from '../sync/circuit.js';
import type { DeliveryQueues } from '../sync/queues.js';

/**
 * What Prometheus scrapes at /metrics. One registry per gateway (no global default registry, so
 * tests can run several gateways in one process). Counters count what this process did; the
 * backlog gauges are read from Redis at scrape time, so every process reports the same backlog.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly accepted: Counter<'kind' | 'outcome'>;
  readonly refused: Counter<'kind' | 'reason'>;
  readonly pushDuration: Histogram<'upstream' | 'outcome'>;
  readonly retries: Counter<'upstream' | 'code'>;
  readonly failures: Counter<'upstream' | 'code'>;
  readonly tokenRefreshes: Counter<'upstream'>;
  readonly circuitState: Gauge<'upstream'>;

  constructor(deps?: { redis: Redis; queues?: DeliveryQueues; upstreams: string[] }) {
    const registers = [this.registry];
    this.accepted = new Counter({ name: 'gerbang_records_accepted_total', help: 'Records accepted, by kind and outcome (created, new-version, duplicate)', labelNames: ['kind', 'outcome'], registers });
    this.refused = new Counter({ name: 'gerbang_records_refused_total', help: 'Records refused, by kind and error code', labelNames: ['kind', 'reason'], registers });
    this.pushDuration = new Histogram({
      name: 'gerbang_push_duration_seconds',
      help: 'Time of one push to an upstream, by outcome',
      labelNames: ['upstream', 'outcome'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.retries = new Counter({ name: 'gerbang_delivery_retries_total', help: 'Pushes that will be tried again, by upstream and cause', labelNames: ['upstream', 'code'], registers });
    this.failures = new Counter({ name: 'gerbang_delivery_failures_total', help: 'Records parked as failed for a person, by upstream and code', labelNames: ['upstream', 'code'], registers });
    this.tokenRefreshes = new Counter({ name: 'gerbang_token_refreshes_total', help: 'OAuth2 tokens requested from an upstream', labelNames: ['upstream'], registers });
    const circuitOf = deps ? (u: string) => deps.redis.hget(circuitKey(u), 'state') : undefined;
    this.circuitState = new Gauge({
      name: 'gerbang_circuit_state',
      help: 'Upstream circuit: 0 closed (sending), 1 half-open (probing), 2 open (paused)',
      labelNames: ['upstream'],
      registers,
      // Read from Redis at scrape time: the circuit is shared by every worker process.
      async collect() {
        if (!deps || !circuitOf) return;
        for (const u of deps.upstreams) this.set({ upstream: u }, CIRCUIT_GAUGE[((await circuitOf(u)) as CircuitState | null) ?? 'closed']);
      },
    });
    if (!deps) return;
    const { redis, queues, upstreams } = deps;

    new Gauge({
      name: 'gerbang_queue_jobs',
      help: 'Delivery jobs in the queue, by upstream and BullMQ state',
      labelNames: ['upstream', 'state'],
      registers,
      async collect() {
        if (!queues) return;
        for (const u of upstreams) {
          const counts = await queues.queue(u).getJobCounts('waiting', 'active', 'delayed', 'prioritized');
          for (const [state, n] of Object.entries(counts)) this.set({ upstream: u, state }, n);
        }
      },
    });
    new Gauge({
      name: 'gerbang_backlog_records',
      help: 'Accepted records not yet synced at the upstream (queued, retrying, waiting, failed)',
      labelNames: ['upstream'],
      registers,
      async collect() {
        for (const u of upstreams) this.set({ upstream: u }, await redis.zcard(aggKeys.backlog(u)));
      },
    });
    new Gauge({
      name: 'gerbang_backlog_oldest_age_seconds',
      help: 'Age of the oldest record not yet synced at the upstream (0 when none)',
      labelNames: ['upstream'],
      registers,
      async collect() {
        for (const u of upstreams) {
          const [, score] = await redis.zrange(aggKeys.backlog(u), 0, 0, 'WITHSCORES');
          this.set({ upstream: u }, score ? Math.max(0, (Date.now() - Number(score)) / 1000) : 0);
        }
      },
    });
  }
}
