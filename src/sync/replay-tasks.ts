import type { Scope } from '../config/types.js';
import type { FailureFilter } from './record-search.js';
import type { UpstreamState } from './states.js';

// The record of a bulk replay (bulk-replay.ts), for whoever asked to watch it. Kept in Redis
// (store/redis-replay-tasks.ts) or PostgreSQL (pg/pg-replay-tasks.ts); the roles pick one
// (src/roles/stores.ts). The replay jobs themselves are BullMQ's, in Redis, either way.

export interface ReplayRequest {
  filter: Omit<FailureFilter, 'limit' | 'offset'> & { state?: UpstreamState };
  /** the requesting key's scope, applied again when the job runs */
  scope: Scope | undefined;
  requestedBy: string;
}

export interface ReplayTask {
  id: string;
  status: 'queued' | 'running' | 'done' | 'failed';
  requestedBy: string;
  createdAt: string;
  filter: ReplayRequest['filter'];
  matched?: number;
  replayed?: number;
  finishedAt?: string;
}

/** A finished task stays readable for a week, long enough for whoever asked to look. */
export const TASK_KEPT_MS = 7 * 86_400_000;

/**
 * When a task is forgotten (ms since the epoch): a week after it finished, or, unfinished, a week
 * after it was asked for (a job that never ends does not keep its task for ever).
 */
export function taskExpiry(task: ReplayTask): number {
  return Date.parse(task.finishedAt ?? task.createdAt) + TASK_KEPT_MS;
}

export interface ReplayTaskStore {
  /** Writes the task as it is now (a new one, or the same id again with its progress). */
  save(task: ReplayTask): Promise<void>;
  /** The task, or undefined when unknown or past its expiry. */
  get(id: string): Promise<ReplayTask | undefined>;
}
