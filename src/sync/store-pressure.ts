import { Cluster, type Redis } from 'ioredis';
import type { Logger } from 'pino';

// How often the store's memory is looked at. INFO is cheap, but not per request: one look a
// second is enough to stop a flood well before the cap (a second of ingest is a few MiB).
const LOOK_EVERY_MS = 1_000;

export interface StoreMemory {
  usedBytes: number;
  /** 0: the store has no cap (an external Redis without maxmemory) */
  maxBytes: number;
}

/** used_memory and maxmemory from the text of `INFO memory`. */
function parseMemoryInfo(info: string): StoreMemory | undefined {
  const used = /^used_memory:(\d+)/m.exec(info)?.[1];
  const max = /^maxmemory:(\d+)/m.exec(info)?.[1];
  return used !== undefined && max !== undefined ? { usedBytes: Number(used), maxBytes: Number(max) } : undefined;
}

/**
 * The store's memory: of the server, or on a Redis Cluster of its fullest primary (the queues'
 * slot lives on one node, and that node filling up stops delivery as a full server would).
 */
export async function storeMemory(redis: Redis | Cluster): Promise<StoreMemory | undefined> {
  if (!(redis instanceof Cluster)) return parseMemoryInfo(await redis.info('memory'));
  const nodes = (await Promise.all(redis.nodes('master').map(async (n) => parseMemoryInfo(await n.info('memory'))))).filter((m): m is StoreMemory => m !== undefined);
  const share = (m: StoreMemory) => (m.maxBytes > 0 ? m.usedBytes / m.maxBytes : 0);
  return nodes.reduce<StoreMemory | undefined>((fullest, m) => (!fullest || share(m) > share(fullest) ? m : fullest), undefined);
}

/**
 * Back-pressure before the store is full. Above `highWaterPercent` of Redis' maxmemory ingest is
 * refused (503 store.full), so the rest of the memory stays for delivery to drain the backlog
 * with: with noeviction, a store filled to the cap refuses the state writes and job moves the
 * workers need, and nothing gets out. The memory is read at most once a second, in the background
 * of the requests; a store without maxmemory is never full.
 */
export class StorePressure {
  private memory: StoreMemory | undefined;
  private lookedAt = 0;
  private looking: Promise<void> | undefined;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly highWaterPercent: number,
    private readonly logger?: Pick<Logger, 'warn' | 'info'>,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Whether the store is at or above its high-water mark, as of the last look (at most 1 s old). */
  async full(): Promise<boolean> {
    const now = this.clock();
    if (now - this.lookedAt >= LOOK_EVERY_MS && !this.looking) {
      this.lookedAt = now;
      this.looking = this.look().finally(() => (this.looking = undefined));
    }
    // The first answer waits for the first look; later ones use what the last look saw.
    if (!this.memory && this.looking) await this.looking;
    return this.over(this.memory);
  }

  /** The last look, for a log line. */
  last(): StoreMemory | undefined {
    return this.memory;
  }

  private over(m: StoreMemory | undefined): boolean {
    return !!m && m.maxBytes > 0 && m.usedBytes >= (m.maxBytes * this.highWaterPercent) / 100;
  }

  private async look(): Promise<void> {
    try {
      const was = this.over(this.memory);
      this.memory = (await storeMemory(this.redis)) ?? this.memory;
      const is = this.over(this.memory);
      // One line when the mark is crossed each way, not one per refused record.
      const fields = { usedMb: mb(this.memory?.usedBytes), maxmemoryMb: mb(this.memory?.maxBytes), highWaterPercent: this.highWaterPercent };
      if (is && !was) this.logger?.warn(fields, 'store above its high-water mark: ingest answers 503 store.full while delivery drains the backlog');
      if (was && !is) this.logger?.info(fields, 'store below its high-water mark again: ingest accepts records');
    } catch {
      // Redis away: the write that follows fails on its own (store.unavailable).
    }
  }
}

function mb(bytes: number | undefined): number | undefined {
  return bytes === undefined ? undefined : Math.round(bytes / 1024 / 102.4) / 10;
}

/** Redis' refusal of a write when used memory is past maxmemory (noeviction). */
export function isOutOfMemory(err: unknown): boolean {
  return err instanceof Error && /^OOM\b/.test(err.message);
}

/** Whether the store takes writes again: below its maxmemory, or without one. */
export async function storeHasRoom(redis: Redis | Cluster): Promise<boolean> {
  const m = await storeMemory(redis).catch(() => undefined);
  return !!m && (m.maxBytes === 0 || m.usedBytes < m.maxBytes);
}
