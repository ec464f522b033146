import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { errorCodes } from '../errors/codes.js';

// Every label value comes from a closed set. A label made of what a client sent (a `kind` that is
// a NIK) would publish it on /metrics, and every new value is a new series kept for good.
const OTHER = 'other';
const OUTCOMES = new Set(['created', 'new-version', 'duplicate']);

/** A record kind as a label: one of `kinds`, else `other`. */
export function kindLabel(kind: unknown, kinds: ReadonlySet<string>): string {
  return typeof kind === 'string' && kinds.has(kind) ? kind : OTHER;
}

/**
 * What the delivery side reports at scrape time, read from the shared store so that every process
 * shows the same backlog (sync/delivery-gauges.ts reads it). `circuit` is the gauge value:
 * 0 closed, 1 half-open, 2 open.
 */
export interface DeliveryGauges {
  circuit(upstream: string): Promise<number>;
  /** BullMQ job counts by state; absent in a process without queues */
  queueJobs?(upstream: string): Promise<Record<string, number>>;
  backlogRecords(upstream: string): Promise<number>;
  /** when the oldest record not yet synced was accepted (ms since the epoch), undefined when none */
  backlogOldestAtMs(upstream: string): Promise<number | undefined>;
}

/** An error code as a label: one of the codes in src/errors/codes.ts, else `other`. */
export function reasonLabel(code: unknown): string {
  return typeof code === 'string' && Object.hasOwn(errorCodes, code) ? code : OTHER;
}

/**
 * Codes an upstream push ends with (an HTTP status, a network error name) come from our code and
 * libraries, not from clients; still, a label takes at most 64 distinct values, then `other`.
 */
class BoundedLabel {
  private readonly seen = new Set<string>();
  of(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= 64 || !/^[A-Za-z0-9._-]{1,40}$/.test(value)) return OTHER;
    this.seen.add(value);
    return value;
  }
}

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

  private readonly kinds: ReadonlySet<string>;
  private readonly deliveryCodes = new BoundedLabel();
  private readonly pushOutcomes = new BoundedLabel();

  /** A record taken, counted under labels from closed sets. */
  recordAccepted(kind: unknown, outcome: string): void {
    this.accepted.inc({ kind: kindLabel(kind, this.kinds), outcome: OUTCOMES.has(outcome) ? outcome : OTHER });
  }

  /** A record refused; `kind` is whatever the client sent, so it is only used when it is a kind. */
  recordRefused(kind: unknown, reason: string): void {
    this.refused.inc({ kind: kindLabel(kind, this.kinds), reason: reasonLabel(reason) });
  }

  /** One push's duration and, when it is retried or parked, its code. */
  recordPush(upstream: string, outcome: string, seconds: number, next: { state: string; code?: string }): void {
    this.pushDuration.observe({ upstream, outcome: this.pushOutcomes.of(outcome) }, seconds);
    const code = this.deliveryCodes.of(next.code ?? 'unknown');
    if (next.state === 'retrying') this.retries.inc({ upstream, code });
    if (next.state === 'failed') this.failures.inc({ upstream, code });
  }

  constructor(deps: { kinds: readonly string[]; upstreams?: readonly string[]; gauges?: DeliveryGauges }) {
    this.kinds = new Set(deps.kinds);
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
    const { gauges, upstreams = [] } = deps;
    this.circuitState = new Gauge({
      name: 'gerbang_circuit_state',
      help: 'Upstream circuit: 0 closed (sending), 1 half-open (probing), 2 open (paused)',
      labelNames: ['upstream'],
      registers,
      // Read from Redis at scrape time: the circuit is shared by every worker process.
      async collect() {
        if (!gauges) return;
        for (const u of upstreams) this.set({ upstream: u }, await gauges.circuit(u));
      },
    });
    if (!gauges) return;

    new Gauge({
      name: 'gerbang_queue_jobs',
      help: 'Delivery jobs in the queue, by upstream and BullMQ state',
      labelNames: ['upstream', 'state'],
      registers,
      async collect() {
        if (!gauges.queueJobs) return;
        for (const u of upstreams) {
          const counts = await gauges.queueJobs(u);
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
        for (const u of upstreams) this.set({ upstream: u }, await gauges.backlogRecords(u));
      },
    });
    new Gauge({
      name: 'gerbang_backlog_oldest_age_seconds',
      help: 'Age of the oldest record not yet synced at the upstream (0 when none)',
      labelNames: ['upstream'],
      registers,
      async collect() {
        for (const u of upstreams) {
          const oldestAtMs = await gauges.backlogOldestAtMs(u);
          this.set({ upstream: u }, oldestAtMs !== undefined ? Math.max(0, (Date.now() - oldestAtMs) / 1000) : 0);
        }
      },
    });
  }
}
