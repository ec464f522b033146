import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { DeliveryConfig, UpstreamConfig } from '../config/types.js';
import { httpDeliveryCode, networkDeliveryCode, type DeliveryCodeName } from '../errors/codes.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import { logRepeated } from '../log/logger.js';
import type { PushContext, PushResult, Upstream } from '../upstream/upstream.js';
import { Circuit } from './circuit.js';
import type { Ledger } from './ledger.js';
import type { PayloadUnreadableError } from './payload-cipher.js';
import { isOutOfMemory, storeHasRoom } from './store-pressure.js';
import { queueName, type DeliveryJob } from './queues.js';
import type { StoreKeys } from './store/keys.js';
import { decide, isUpstreamFailure, lowerPriority, throttleMs, type Decision } from './retry-policy.js';
import type { UpstreamError, UpstreamStatus } from './states.js';

// How long a record waits when an earlier record of the same person is still on its way.
const ORDER_WAIT_MS = 250;

// BullMQ's limiter needs a maximum before a pause (Queue.rateLimit) takes effect; an upstream with
// no configured rate gets one no worker pool reaches.
const UNLIMITED_PER_SECOND = 1_000_000;

// A store that refuses writes (full) is looked at this often until it takes them again.
const ROOM_LOOK_MS = 1_000;

interface Lane {
  upstream: Upstream;
  circuit: Circuit;
  /** pauses every worker of this upstream, in every process (BullMQ's queue-wide rate limit) */
  queue: Queue<DeliveryJob>;
}

/**
 * Pushes queued records to their upstreams. One BullMQ worker per upstream. The job carries ids
 * only: the Bundle is read from the ledger at the time of the push, so a job never sends a stale
 * copy, and the ledger's state says what happened.
 */
export class DeliveryWorkers {
  private readonly workers: Worker<DeliveryJob>[] = [];
  private readonly lanes: Lane[] = [];
  private roomWatch: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: {
      connection: Redis | Cluster;
      keys: StoreKeys;
      ledger: Ledger;
      upstreams: Upstream[];
      /** per upstream name: its rate and circuit settings */
      upstreamConfigs: readonly UpstreamConfig[];
      delivery: DeliveryConfig;
      logger: Logger;
      metrics?: GatewayMetrics;
      now?: () => number;
    },
  ) {}

  start(): void {
    const { connection, delivery, keys } = this.deps;
    for (const upstream of this.deps.upstreams) {
      const cfg = this.deps.upstreamConfigs.find((c) => c.name === upstream.name);
      if (!cfg) throw new Error(`no configuration for upstream ${upstream.name}`);
      const lane: Lane = {
        upstream,
        circuit: new Circuit(connection, upstream.name, cfg.circuit, delivery.lockDurationMs, keys),
        queue: new Queue<DeliveryJob>(queueName(upstream.name), { connection, prefix: keys.queuePrefix }),
      };
      this.lanes.push(lane);
      const worker = new Worker<DeliveryJob>(queueName(upstream.name), (job, token) => this.deliverOrWait(lane, job, token), {
        connection,
        prefix: keys.queuePrefix,
        concurrency: delivery.concurrency,
        // A worker that dies mid-push (SIGKILL, power cut) stops renewing its lock; after
        // lockDuration another worker takes the job again. The conditional writes make the second
        // push harmless. maxStalledCount bounds a record that crashes every worker it touches.
        lockDuration: delivery.lockDurationMs,
        stalledInterval: delivery.lockDurationMs,
        maxStalledCount: 5,
        // Counted in Redis, so the rate holds across every worker process of the upstream.
        limiter: { max: cfg.pushesPerSecond !== undefined ? Math.max(1, Math.round(cfg.pushesPerSecond)) : UNLIMITED_PER_SECOND, duration: cfg.pushesPerSecond !== undefined && cfg.pushesPerSecond < 1 ? Math.round(1000 / cfg.pushesPerSecond) : 1000 },
      });
      worker.on('error', (err) => logRepeated(this.deps.logger, 'error', `worker:${upstream.name}`, err, { upstream: upstream.name }, 'delivery worker error'));
      worker.on('failed', (job, err) => {
        if (!job) return;
        logRepeated(this.deps.logger, 'error', `job:${upstream.name}`, err, { recordId: job.data.recordId, upstream: upstream.name }, 'delivery job failed unexpectedly');
        void this.parkIfGivenUp(upstream.name, job, err).catch((e: unknown) =>
          logRepeated(this.deps.logger, 'error', `park:${upstream.name}`, e, { recordId: job.data.recordId, upstream: upstream.name }, 'could not park a record whose job failed'),
        );
      });
      this.workers.push(worker);
    }
  }

  /**
   * BullMQ gave up on a job our policy did not decide about: it crashed its worker more than
   * maxStalledCount times, or threw (a bug, Redis gone mid-job) more than the job's attempts. The
   * record would otherwise stay "sending" with no job behind it; park it as failed so a person
   * sees it and can replay it.
   */
  private async parkIfGivenUp(upstream: string, job: Job<DeliveryJob>, err: Error): Promise<void> {
    if (!(await job.isFailed())) return; // BullMQ will try it again
    const { ledger } = this.deps;
    const current = await ledger.stateAt(job.data.recordId, upstream);
    if (!current || current.status.version !== job.data.version || current.status.state === 'synced' || current.status.state === 'failed') return;
    const at = new Date((this.deps.now ?? Date.now)()).toISOString();
    const stalled = /stalled/.test(err.message);
    await ledger.setState(job.data.recordId, upstream, {
      ...current.status,
      state: 'failed',
      lastError: {
        code: (stalled ? 'delivery.worker-crashed' : 'delivery.job-failed') satisfies DeliveryCodeName,
        message: stalled ? 'the record stopped the delivery worker several times; it is kept for a person to look at and replay' : `delivery stopped on an internal error (${err.name})`,
        at,
      },
      updatedAt: at,
    }, Date.parse(at), current.subject);
  }

  /** Finishes the pushes in flight, then stops (SIGTERM). */
  async close(): Promise<void> {
    clearInterval(this.roomWatch);
    await Promise.all(this.workers.map((w) => w.close()));
    await Promise.all(this.lanes.map((l) => l.queue.close()));
  }

  /**
   * A full store (Redis refusing writes with OOM) is not the record's fault: the job goes back
   * untried, spending none of its attempts, and every worker of this process stops taking jobs
   * until the store has room. Without this each job failed and was retried by BullMQ until its
   * attempts ran out, and was then left failed with its record still "sending": delivery locked up
   * instead of draining once memory was freed.
   */
  private async deliverOrWait(lane: Lane, job: Job<DeliveryJob>, token: string | undefined): Promise<string> {
    try {
      return await this.deliver(lane, job, token);
    } catch (err) {
      if (!isOutOfMemory(err)) throw err;
      this.pauseUntilRoom(err);
      // If even this move is refused, BullMQ's own retry has the job.
      return this.later(job, token, (this.deps.now ?? Date.now)() + ROOM_LOOK_MS);
    }
  }

  private pauseUntilRoom(err: unknown): void {
    if (this.roomWatch) return;
    logRepeated(this.deps.logger, 'warn', 'delivery:store-full', err, {}, 'the store refuses writes (full): delivery pauses until it has room');
    // Local pauses: no Redis write, which the store would refuse.
    for (const w of this.workers) void w.pause(true);
    this.roomWatch = setInterval(() => {
      void storeHasRoom(this.deps.connection).then((room) => {
        if (!room || !this.roomWatch) return;
        clearInterval(this.roomWatch);
        this.roomWatch = undefined;
        for (const w of this.workers) w.resume();
        this.deps.logger.info('the store takes writes again: delivery resumes');
      });
    }, ROOM_LOOK_MS);
    this.roomWatch.unref();
  }

  private async deliver(lane: Lane, job: Job<DeliveryJob>, token: string | undefined): Promise<string> {
    const { ledger, delivery, logger } = this.deps;
    const { upstream, circuit } = lane;
    const now = this.deps.now ?? Date.now;
    const { recordId, version } = job.data;
    const log = logger.child({ recordId, upstream: upstream.name, version });
    const start = await ledger.beginDelivery(recordId, upstream.name, version, now());
    switch (start.kind) {
      case 'missing':
        // Gone, payload dropped by retention, or accepted before this upstream was configured.
        log.warn('record, its Bundle or its state at this upstream is not in the ledger; job dropped');
        return 'missing';
      case 'superseded':
        return 'superseded';
      case 'settled':
        return start.state;
      case 'wait':
        // A person's records go in the order they were accepted, one at a time: a later visit never
        // overtakes an earlier one, and two pushes for one patient never race (conditional creates).
        // A correction also waits for a push of the version it corrects that is still in flight.
        return this.later(job, token, now() + ORDER_WAIT_MS);
      case 'go':
      case 'unreadable':
        break;
    }
    // An upstream that keeps failing gets a rest: the job goes back to the queue untried (no
    // attempt spent) and the whole queue pauses until the circuit lets a probe through.
    const admission = await circuit.admit(now());
    if (!admission.go) {
      await lane.queue.rateLimit(admission.waitMs);
      throw Worker.RateLimitError();
    }

    const attempts = start.status.attempts + 1;
    const base: UpstreamStatus = { ...start.status, version, attempts, updatedAt: new Date(now()).toISOString() };
    delete base.nextAttemptAt;
    delete base.sendingUntil;
    delete base.earlierSending;
    // Past the lock, BullMQ hands the job to another worker; until then this push may still write.
    await ledger.setState(recordId, upstream.name, { ...base, state: 'sending', sendingUntil: now() + delivery.lockDurationMs });

    const held = Array.isArray(start.status.held) ? start.status.held : [];
    const superseded = async () => ((await ledger.latestVersion(recordId)) ?? version) > version;
    const result =
      start.kind === 'go'
        ? await this.leased(recordId, upstream.name, version, log, () => upstream.push(start.bundle, { recordId, version, superseded, ...previousPushOf(start.status), ...(held.length > 0 ? { held } : {}) }))
        : unreadablePayload(start.error, log);
    const outcome = result.outcome;
    const identityWaits = (start.status.identityWaits ?? 0) + (outcome.kind === 'waiting-identity' ? 1 : 0);
    const decision = decide(outcome, { attempts, identityWaits, ageMs: now() - Date.parse(start.receivedAt), now: now() }, delivery);
    log.info({ attempt: attempts, outcome: describe(result), action: decision.action, durationMs: Math.round(result.durationMs), ...(admission.probe ? { probe: true } : {}) }, 'push');
    const next = nextStatus({ ...base, ...(identityWaits > 0 ? { identityWaits } : {}) }, decision, result, now());
    // The circuit and a throttle first: the other pushes in flight should see a 429 as soon as can be.
    await this.report(lane, result, admission.probe, now());
    // Anything but a plain retry settles the record at this upstream for now, so the person's next
    // record may go; a record waiting for its person is not worth holding the others for hours.
    await ledger.setState(recordId, upstream.name, next, now(), decision.action === 'retry' ? undefined : start.subject);
    this.count(upstream.name, result, next);

    if (decision.action === 'retry' || decision.action === 'wait-identity') {
      await job.changePriority({ priority: lowerPriority(job.priority, attempts) });
      return this.later(job, token, now() + decision.delayMs);
    }
    return decision.action;
  }

  /**
   * Runs the push with its lease renewed every half lease: a correction waits for this push only
   * while the lease lasts, and a push in parts can outlive one lease (a slow server), so without
   * renewing, its last part could be written after the correction's and leave the older value.
   */
  private async leased<T>(recordId: string, upstream: string, version: number, log: Logger, push: () => Promise<T>): Promise<T> {
    const { ledger, delivery } = this.deps;
    const now = this.deps.now ?? Date.now;
    let renewing: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
      renewing = renewing
        .then(() => ledger.renewSending(recordId, upstream, version, now() + delivery.lockDurationMs))
        .catch((err: unknown) => logRepeated(log, 'warn', `lease:${upstream}`, err, { recordId, upstream }, 'could not renew the lease of a push in flight'));
    }, Math.max(100, Math.floor(delivery.lockDurationMs / 2)));
    try {
      return await push();
    } finally {
      clearInterval(timer);
      await renewing; // before the push's end is written, so no renewal lands after it
    }
  }

  /** What the push says about the upstream: its circuit, and a throttle for every worker. */
  private async report(lane: Lane, result: PushResult, probe: boolean, now: number): Promise<void> {
    const { outcome } = result;
    if (outcome.kind === 'not-sent') return; // the upstream's FHIR API was not called
    const state = await lane.circuit.record(!isUpstreamFailure(outcome), probe, now);
    if (state === 'open') this.deps.logger.warn({ upstream: lane.upstream.name, probe }, 'upstream keeps failing: circuit open, pushes paused');
    const pause = throttleMs(outcome, now, this.deps.delivery.baseDelayMs, this.deps.delivery.maxRetryAfterSeconds * 1000);
    if (pause) await lane.queue.rateLimit(pause);
  }

  private async later(job: Job<DeliveryJob>, token: string | undefined, at: number): Promise<never> {
    if (!token) throw new Error('delivery job without a lock token');
    await job.moveToDelayed(at, token);
    throw new DelayedError();
  }

  private count(upstream: string, result: PushResult, next: UpstreamStatus): void {
    const m = this.deps.metrics;
    if (!m) return;
    m.recordPush(upstream, describe(result), result.durationMs / 1000, { state: next.state, ...(next.lastError?.code ? { code: next.lastError.code } : {}) });
  }
}

function nextStatus(base: UpstreamStatus, decision: Decision, result: PushResult, now: number): UpstreamStatus {
  const at = new Date(now).toISOString();
  switch (decision.action) {
    case 'synced': {
      const synced: UpstreamStatus = { ...base, state: 'synced', resources: result.resources ?? [], syncedAt: at, updatedAt: at };
      delete synced.lastError;
      delete synced.outcome;
      // The resources now say what the upstream holds for the record.
      delete synced.held;
      delete synced.heldVersion;
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
    case 'wait-identity':
      return {
        ...base,
        state: 'waiting-identity',
        nextAttemptAt: new Date(now + decision.delayMs).toISOString(),
        lastError: errorOf(result, at),
        updatedAt: at,
      };
    case 'fail':
      return {
        ...base,
        state: 'failed',
        lastError: { ...errorOf(result, at), ...(decision.reason !== 'rejected' ? { code: `delivery.${decision.reason}` satisfies DeliveryCodeName } : {}) },
        ...(result.body !== undefined ? { outcome: result.body } : {}),
        updatedAt: at,
      };
  }
}

/**
 * A Bundle sealed with a key this process lacks is an operator's error: the record keeps retrying
 * (and ends failed, replayable) until the key is configured again. One that fails its integrity
 * check will not get better: it fails at once, for a person to look at.
 */
function unreadablePayload(error: PayloadUnreadableError, log: Logger): PushResult {
  log.error({ payloadKey: error.keyId, reason: error.reason }, error.message);
  return { outcome: { kind: 'not-sent', code: `payload.${error.reason}`, message: error.message, transient: error.reason === 'key-missing' }, durationMs: 0 };
}

function errorOf(result: PushResult, at: string): UpstreamError {
  const o = result.outcome;
  switch (o.kind) {
    case 'http':
      return { code: httpDeliveryCode(o.status), message: `the upstream answered HTTP ${o.status}`, httpStatus: o.status, at };
    case 'network':
      return { code: networkDeliveryCode(o.code), message: o.detail ?? `the upstream could not be reached (${o.code})`, at };
    case 'waiting-identity':
      return { code: 'upstream.identity-unknown', message: o.reason, at };
    case 'not-sent':
      return { code: o.code, message: o.message, at };
    case 'delivered':
      // decide() makes every delivered push synced, which has no error
      throw new Error('a delivered push has no error to keep');
  }
}

function describe(result: PushResult): string {
  const o = result.outcome;
  switch (o.kind) {
    case 'http':
      return `http-${o.status}`;
    case 'network':
      return o.code;
    case 'not-sent':
      return o.code;
    default:
      return o.kind;
  }
}

/** How the last push of this version ended, for the upstream to judge whether it may have written. */
function previousPushOf(status: UpstreamStatus): Partial<Pick<PushContext, 'previousPush'>> {
  if (status.attempts === 0) return {};
  const e = status.lastError;
  return { previousPush: { ended: status.state !== 'sending', ...(e ? { code: e.code, ...(e.httpStatus !== undefined ? { httpStatus: e.httpStatus } : {}) } : {}) } };
}
