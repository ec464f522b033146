import type { Cluster, Redis } from 'ioredis';
import { taskExpiry, type ReplayTask, type ReplayTaskStore } from '../replay-tasks.js';
import type { StoreKeys } from './keys.js';

/** Replay tasks in Redis: one JSON string each, expiring by itself (PXAT). */
export class RedisReplayTasks implements ReplayTaskStore {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly keys: StoreKeys,
  ) {}

  async save(task: ReplayTask): Promise<void> {
    await this.redis.set(this.keys.replayTask(task.id), JSON.stringify(task), 'PXAT', taskExpiry(task));
  }

  async get(id: string): Promise<ReplayTask | undefined> {
    const text = await this.redis.get(this.keys.replayTask(id));
    return text ? (JSON.parse(text) as ReplayTask) : undefined;
  }
}
