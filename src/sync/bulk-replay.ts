import { randomUUID } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config, Scope } from '../config/types.js';
import { logRepeated } from '../log/logger.js';
import { ScopeCheck } from '../config/scope.js';
import type { Ledger } from './ledger.js';
import type { FailureFilter, RecordSearch } from './record-search.js';
import type { UpstreamState } from './states.js';
import type { StoreKeys } from './store/keys.js';

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

const QUEUE = 'replay';
// A finished task stays readable for a week, long enough for whoever asked to look.
const TASK_TTL_SECONDS = 7 * 86_400;

/**
 * Bulk replay by filter, as a background job: a district can replay thousands of records after an
 * upstream fixed its side, and the request answers at once with a task to watch. Records go back
 * in the order they were received.
 */
export class BulkReplays {
  private readonly queue: Queue<ReplayRequest & { taskId: string }>;
  private worker: Worker | undefined;

  private readonly keys: StoreKeys;

  constructor(private readonly deps: { redis: Redis | Cluster; ledger: Ledger; search: RecordSearch; config: Config; logger: Logger; keys: StoreKeys }) {
    this.keys = deps.keys;
    this.queue = new Queue(QUEUE, { connection: deps.redis, prefix: deps.keys.queuePrefix, defaultJobOptions: { attempts: 5, backoff: { type: 'exponential', delay: 2_000 }, removeOnComplete: { age: TASK_TTL_SECONDS }, removeOnFail: { age: TASK_TTL_SECONDS } } });
  }

  async request(req: ReplayRequest, now = new Date()): Promise<ReplayTask> {
    const task: ReplayTask = { id: randomUUID(), status: 'queued', requestedBy: req.requestedBy, createdAt: now.toISOString(), filter: req.filter };
    await this.deps.redis.set(this.keys.replayTask(task.id), JSON.stringify(task), 'EX', TASK_TTL_SECONDS);
    await this.queue.add('replay', { ...req, taskId: task.id }, { jobId: task.id });
    return task;
  }

  async get(id: string): Promise<ReplayTask | undefined> {
    const text = await this.deps.redis.get(this.keys.replayTask(id));
    return text ? (JSON.parse(text) as ReplayTask) : undefined;
  }

  /** Runs replay jobs in this process (where the delivery workers run). */
  startWorker(connection: Redis | Cluster): void {
    this.worker = new Worker(QUEUE, (job: Job<ReplayRequest & { taskId: string }>) => this.run(job.data), { connection, prefix: this.keys.queuePrefix, concurrency: 1 });
    this.worker.on('error', (err) => logRepeated(this.deps.logger, 'error', 'replay', err, {}, 'replay worker error'));
  }

  private async run(req: ReplayRequest & { taskId: string }): Promise<void> {
    const { ledger, search, config, logger } = this.deps;
    const task = (await this.get(req.taskId)) ?? { id: req.taskId, status: 'queued', requestedBy: req.requestedBy, createdAt: new Date().toISOString(), filter: req.filter };
    await this.save({ ...task, status: 'running' });
    const scope = new ScopeCheck(req.scope, config.facilities);
    const ids = await search.problemIds(req.filter, (p) => scope.covers(p));
    let replayed = 0;
    for (const { id, upstream } of ids) if (await ledger.requeue(id, upstream)) replayed += 1;
    await this.save({ ...task, status: 'done', matched: ids.length, replayed, finishedAt: new Date().toISOString() });
    logger.info({ task: req.taskId, matched: ids.length, replayed, by: req.requestedBy }, 'bulk replay done');
  }

  private async save(task: ReplayTask): Promise<void> {
    await this.deps.redis.set(this.keys.replayTask(task.id), JSON.stringify(task), 'EX', TASK_TTL_SECONDS);
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
  }
}
