import { DelayedError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { DeliveryConfig } from '../config/types.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import type { PushResult, Upstream } from '../upstream/upstream.js';
import type { Ledger } from './ledger.js';
import { QUEUE_PREFIX, queueName, type DeliveryJob } from './queues.js';
import { decide, type Decision } from './retry-policy.js';
import type { UpstreamError, UpstreamStatus } from './states.js';

// How long a record waits when an earlier record of the same person is still on its way.
const ORDER_WAIT_MS = 250;

/**
 * Pushes queued records to their upstreams. One BullMQ worker per upstream. The job carries ids
 * only: the Bundle is read from the ledger at the time of the push, so a job never sends a stale
 * copy, and the ledger's state says what happened.
 */
export class DeliveryWorkers {
  private readonly workers: Worker<DeliveryJob>[] = [];

  constructor(
    private readonly deps: {
      connection: Redis;
      ledger: Ledger;
      upstreams: Upstream[];
      delivery: DeliveryConfig;
      logger: Logger;
      metrics?: GatewayMetrics;
      now?: () => number;
    },
  ) {}

  start(): void {
    const { connection, delivery } = this.deps;
    for (const upstream of this.deps.upstreams) {
      const worker = new Worker<DeliveryJob>(queueName(upstream.name), (job, token) => this.deliver(upstream, job, token), {
        connection,
        prefix: QUEUE_PREFIX,
        concurrency: delivery.concurrency,
        // A worker that dies mid-push (SIGKILL, power cut) stops renewing its lock; after
        // lockDuration another worker takes the job again. The conditional writes make the second
        // push harmless. maxStalledCount bounds a record that crashes every worker it touches.
        lockDuration: delivery.lockDurationMs,
        stalledInterval: delivery.lockDurationMs,
        maxStalledCount: 5,
      });
      worker.on('error', (err) => this.deps.logger.error({ err, upstream: upstream.name }, 'delivery worker error'));
      worker.on('failed', (job, err) => {
        if (job) this.deps.logger.error({ err, recordId: job.data.recordId, upstream: upstream.name }, 'delivery job failed unexpectedly');
      });
      this.workers.push(worker);
    }
  }

  /** Finishes the pushes in flight, then stops (SIGTERM). */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
  }

  private async deliver(upstream: Upstream, job: Job<DeliveryJob>, token: string | undefined): Promise<string> {
    const { ledger, delivery, logger } = this.deps;
    const now = this.deps.now ?? Date.now;
    const { recordId, version } = job.data;
    const log = logger.child({ recordId, upstream: upstream.name, version });
    const current = await ledger.forDelivery(recordId, upstream.name);
    if (!current) {
      log.warn('record not in the ledger; job dropped');
      return 'missing';
    }
    if (current.version > version || current.status.version > version) return 'superseded';
    if (current.status.state === 'synced' || current.status.state === 'failed') {
      await ledger.settled(recordId, current.subject, upstream.name);
      return current.status.state;
    }
    // A person's records go in the order they were accepted, one at a time: a later visit never
    // overtakes an earlier one, and two pushes for one patient never race (conditional creates).
    if (!(await ledger.isNextInOrder(recordId, current.subject, upstream.name))) {
      if (!token) throw new Error('delivery job without a lock token');
      await job.moveToDelayed(now() + ORDER_WAIT_MS, token);
      throw new DelayedError();
    }

    const attempts = current.status.attempts + 1;
    const base: UpstreamStatus = { ...current.status, version, attempts, updatedAt: new Date(now()).toISOString() };
    delete base.nextAttemptAt;
    await ledger.setState(recordId, upstream.name, { ...base, state: 'sending' });

    const result = await upstream.push(current.bundle, { recordId, version });
    const decision = decide(
      result.outcome,
      { attempts, ageMs: now() - Date.parse(current.receivedAt), now: now() },
      delivery,
    );
    log.info({ attempt: attempts, outcome: describe(result), action: decision.action, durationMs: Math.round(result.durationMs) }, 'push');
    const next = nextStatus(base, decision, result, now());
    await ledger.setState(recordId, upstream.name, next);
    this.count(upstream.name, result, next);
    if (decision.action !== 'retry') await ledger.settled(recordId, current.subject, upstream.name);

    if (decision.action === 'retry') {
      if (!token) throw new Error('delivery job without a lock token');
      await job.moveToDelayed(now() + decision.delayMs, token);
      throw new DelayedError();
    }
    return decision.action;
  }

  private count(upstream: string, result: PushResult, next: UpstreamStatus): void {
    const m = this.deps.metrics;
    if (!m) return;
    m.pushDuration.observe({ upstream, outcome: describe(result) }, result.durationMs / 1000);
    if (next.state === 'retrying') m.retries.inc({ upstream, code: next.lastError?.code ?? 'unknown' });
    if (next.state === 'failed') m.failures.inc({ upstream, code: next.lastError?.code ?? 'unknown' });
  }
}

function nextStatus(base: UpstreamStatus, decision: Decision, result: PushResult, now: number): UpstreamStatus {
  const at = new Date(now).toISOString();
  switch (decision.action) {
    case 'synced': {
      const synced: UpstreamStatus = { ...base, state: 'synced', resources: result.resources ?? [], syncedAt: at, updatedAt: at };
      delete synced.lastError;
      delete synced.outcome;
      return synced;
    }
    case 'retry':
      return {
        ...base,
        state: 'retrying',
        nextAttemptAt: new Date(now + decision.delayMs).toISOString(),
        lastError: errorOf(result, at),
        updatedAt: at,
      };
    case 'fail':
      return {
        ...base,
        state: 'failed',
        lastError: { ...errorOf(result, at), ...(decision.reason !== 'rejected' ? { code: `delivery.${decision.reason}` } : {}) },
        ...(result.body !== undefined ? { outcome: result.body } : {}),
        updatedAt: at,
      };
  }
}

function errorOf(result: PushResult, at: string): UpstreamError {
  const o = result.outcome;
  if (o.kind === 'http') {
    return { code: `upstream.http-${o.status}`, message: `the upstream answered HTTP ${o.status}`, httpStatus: o.status, at };
  }
  if (o.kind === 'network') return { code: `upstream.${o.code}`, message: `the upstream could not be reached (${o.code})`, at };
  return { code: 'upstream.ok', message: 'delivered', at };
}

function describe(result: PushResult): string {
  const o = result.outcome;
  return o.kind === 'http' ? `http-${o.status}` : o.kind === 'network' ? o.code : 'delivered';
}
