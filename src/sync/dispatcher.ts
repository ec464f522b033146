import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Ledger } from './ledger.js';
import type { DeliveryJob, DeliveryQueues } from './queues.js';
import type { StoreKeys } from './store/keys.js';
import { defineScripts, runScript } from './store/scripts.js';

const BATCH = 500;
const IDLE_POLL_MS = 20;
const LOCK_MS = 10_000;

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
  private readonly token = randomUUID();

  /** `redis` and `keys`: the dispatcher's lock */
  constructor(private readonly deps: { redis: Redis | Cluster; keys: StoreKeys; ledger: Pick<Ledger, 'pendingDeliveries' | 'deliveriesQueued'>; queues: DeliveryQueues; upstreams: string[]; logger: Logger }) {
    defineScripts(deps.redis);
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async close(): Promise<void> {
    this.running = false;
    await this.loop;
    await runScript(this.deps.redis, 'lock-release', [this.deps.keys.dispatcherLock], [this.token]).catch(() => {});
  }

  private async run(): Promise<void> {
    while (this.running) {
      let moved = 0;
      try {
        if (await this.holdLock()) moved = await this.dispatchBatch();
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

  private async holdLock(): Promise<boolean> {
    const lock = this.deps.keys.dispatcherLock;
    // Renewed only while we still hold it: a dispatcher that stalled past the lock's life cannot take it back.
    if ((await runScript<number>(this.deps.redis, 'lock-renew', [lock], [this.token, LOCK_MS])) === 1) return true;
    return (await this.deps.redis.set(lock, this.token, 'PX', LOCK_MS, 'NX')) === 'OK';
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
