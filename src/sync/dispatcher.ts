import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Ledger } from './ledger.js';
import type { DeliveryJob, DeliveryQueues } from './queues.js';
import type { StoreKeys } from './store/keys.js';
import { RedisLock } from '../locks/redis-lock.js';

const BATCH = 500;
const IDLE_POLL_MS = 20;
const LOCK_MS = 10_000;
// How often, and after how long unchanged, states not settled are made due again (dueAgain): a
// Redis that lost its data between two looks delays its records by at most twice this.
const DUE_AGAIN_EVERY_MS = 15 * 60_000;

/**
 * Turns the deliveries the ledger has due (it adds them in the same step as each accept) into
 * delivery jobs, many at a time. Ingest then costs one Redis call, and jobs are added in bulk. One
 * dispatcher works at a time across processes (a lock); deliveries stop being due only after their
 * jobs exist, and job ids make adding twice harmless, so a crash in between loses and duplicates
 * nothing.
 */
export class Dispatcher {
  private running = false;
  private failing = false;
  private loop: Promise<void> | undefined;
  /** one dispatcher at a time across processes; renewed only while still ours, so one that stalled past its life cannot take it back */
  private readonly lock: RedisLock;
  /** when this dispatcher last made the states not settled due again (0: not since it took the lock) */
  private lastDueAgain = 0;

  /** `redis` and `keys`: the dispatcher's lock */
  constructor(private readonly deps: { redis: Redis | Cluster; keys: StoreKeys; ledger: Pick<Ledger, 'pendingDeliveries' | 'deliveriesQueued' | 'dueAgain'>; queues: DeliveryQueues; upstreams: string[]; logger: Logger }) {
    this.lock = new RedisLock(deps.redis, deps.keys.dispatcherLock, LOCK_MS);
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async close(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.lock.release().catch(() => {});
  }

  private async run(): Promise<void> {
    while (this.running) {
      let moved = 0;
      try {
        const lock = await this.lock.hold();
        // taking the lock anew: at start, after another dispatcher, or after Redis lost it with the rest
        if (lock !== 'renewed') this.lastDueAgain = 0;
        if (lock) {
          await this.dueAgainNow();
          moved = await this.dispatchBatch();
        }
        if (this.failing) this.deps.logger.info('dispatcher: Redis is back');
        this.failing = false;
      } catch (err) {
        // Once per outage, not every half second.
        if (!this.failing) this.deps.logger.warn({ err }, 'dispatcher: the store is unavailable (Redis, or the ledger\'s PostgreSQL), accepted records wait until it is back');
        this.failing = true;
        await sleep(500);
      }
      if (moved === 0) await sleep(IDLE_POLL_MS);
    }
  }

  /**
   * On taking the lock (a start, or another dispatcher gone) every state not settled is made due
   * again, then every DUE_AGAIN_EVERY_MS those unchanged that long: their jobs may have gone with a
   * Redis that lost its data, while the ledger (PostgreSQL) kept the records.
   */
  private async dueAgainNow(): Promise<void> {
    const { ledger, logger } = this.deps;
    if (!ledger.dueAgain) return;
    const now = Date.now();
    if (this.lastDueAgain !== 0 && now - this.lastDueAgain < DUE_AGAIN_EVERY_MS) return;
    const first = this.lastDueAgain === 0;
    const due = await ledger.dueAgain(first ? 0 : DUE_AGAIN_EVERY_MS, now);
    this.lastDueAgain = now;
    if (due > 0) logger.info({ deliveries: due }, first ? 'dispatcher: every delivery not settled is due again, in case Redis lost its jobs (a job still there is not doubled)' : 'dispatcher: deliveries unchanged for a while are due again, in case Redis lost their jobs');
  }

  /** Moves up to BATCH inbox items into jobs; returns how many. */
  async dispatchBatch(): Promise<number> {
    const { ledger, queues, upstreams } = this.deps;
    const due = await ledger.pendingDeliveries(BATCH);
    if (due.length === 0) return 0;
    // A version goes to every upstream; a replay to its own.
    const forAll: DeliveryJob[] = [];
    const forOne = new Map<string, DeliveryJob[]>();
    for (const { recordId, version, replay } of due) {
      if (!replay) forAll.push({ recordId, version });
      else if (upstreams.includes(replay.upstream)) forOne.set(replay.upstream, [...(forOne.get(replay.upstream) ?? []), { recordId, version, replay: replay.count }]);
    }
    if (forAll.length > 0) await queues.enqueueMany(forAll, upstreams);
    for (const [upstream, jobs] of forOne) await queues.enqueueMany(jobs, [upstream]);
    await ledger.deliveriesQueued(due);
    return due.length;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
