import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { DeliveryJob, DeliveryQueues } from './queues.js';
import type { StoreKeys } from './store/keys.js';
import { defineScripts, runScript } from './store/scripts.js';

const BATCH = 500;
const IDLE_POLL_MS = 20;
const LOCK_MS = 10_000;

/**
 * Turns accepted records (the inbox the ledger fills atomically with each accept) into delivery
 * jobs, many at a time. Ingest then costs one Redis call, and jobs are added in bulk. One
 * dispatcher works at a time across processes (a lock); items leave the inbox only after their
 * jobs exist, and job ids make adding twice harmless, so a crash in between loses and duplicates
 * nothing.
 */
export class Dispatcher {
  private running = false;
  private failing = false;
  private loop: Promise<void> | undefined;
  private readonly token = randomUUID();

  private readonly keys: StoreKeys;

  constructor(private readonly deps: { redis: Redis; queues: DeliveryQueues; upstreams: string[]; logger: Logger; keys: StoreKeys }) {
    this.keys = deps.keys;
    defineScripts(deps.redis);
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async close(): Promise<void> {
    this.running = false;
    await this.loop;
    await runScript(this.deps.redis, 'lock-release', [this.keys.dispatcherLock], [this.token]).catch(() => {});
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
        if (!this.failing) this.deps.logger.warn({ err }, 'dispatcher: Redis unavailable, accepted records wait in the inbox');
        this.failing = true;
        await sleep(500);
      }
      if (moved === 0) await sleep(IDLE_POLL_MS);
    }
  }

  private async holdLock(): Promise<boolean> {
    const lock = this.keys.dispatcherLock;
    // Renewed only while we still hold it: a dispatcher that stalled past the lock's life cannot take it back.
    if ((await runScript<number>(this.deps.redis, 'lock-renew', [lock], [this.token, LOCK_MS])) === 1) return true;
    return (await this.deps.redis.set(lock, this.token, 'PX', LOCK_MS, 'NX')) === 'OK';
  }

  /** Moves up to BATCH inbox items into jobs; returns how many. */
  async dispatchBatch(): Promise<number> {
    const { redis, queues, upstreams } = this.deps;
    const items = await redis.lrange(this.keys.inbox, 0, BATCH - 1);
    if (items.length === 0) return 0;
    // "{id} {version}" goes to every upstream; a replay, "{id} {version} {upstream} {replay}", to one.
    const forAll: DeliveryJob[] = [];
    const forOne = new Map<string, DeliveryJob[]>();
    for (const item of items) {
      const [recordId = '', version = '0', upstream, replay] = item.split(' ');
      if (!upstream) forAll.push({ recordId, version: Number(version) });
      else if (upstreams.includes(upstream)) forOne.set(upstream, [...(forOne.get(upstream) ?? []), { recordId, version: Number(version), replay: Number(replay) }]);
    }
    if (forAll.length > 0) await queues.enqueueMany(forAll, upstreams);
    for (const [upstream, jobs] of forOne) await queues.enqueueMany(jobs, [upstream]);
    await redis.ltrim(this.keys.inbox, items.length, -1);
    return items.length;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
