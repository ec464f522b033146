import { randomUUID } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { logRepeated } from '../log/logger.js';
import { ScopeCheck } from '../config/scope.js';
import type { Ledger } from './ledger.js';
import type { RecordSearch } from './record-search.js';
import { TASK_KEPT_MS, type ReplayRequest, type ReplayTask, type ReplayTaskStore } from './replay-tasks.js';

const QUEUE = 'replay';
// BullMQ keeps a finished job as long as its task is kept.
const JOB_KEPT_SECONDS = TASK_KEPT_MS / 1000;

/**
 * Bulk replay by filter, as a background job: a district can replay thousands of records after an
 * upstream fixed its side, and the request answers at once with a task to watch. Records go back
 * in the order they were received.
 */
export class BulkReplays {
  private readonly queue: Queue<ReplayRequest & { taskId: string }>;
  private worker: Worker | undefined;

  /** `redis`, `queuePrefix`: the replay jobs' queue; `tasks`: where the tasks are kept (Redis or PostgreSQL) */
  constructor(private readonly deps: { redis: Redis | Cluster; queuePrefix: string; tasks: ReplayTaskStore; ledger: Ledger; search: RecordSearch; config: Config; logger: Logger }) {
    this.queue = new Queue(QUEUE, { connection: deps.redis, prefix: deps.queuePrefix, defaultJobOptions: { attempts: 5, backoff: { type: 'exponential', delay: 2_000 }, removeOnComplete: { age: JOB_KEPT_SECONDS }, removeOnFail: { age: JOB_KEPT_SECONDS } } });
  }

  async request(req: ReplayRequest, now = new Date()): Promise<ReplayTask> {
    const task: ReplayTask = { id: randomUUID(), status: 'queued', requestedBy: req.requestedBy, createdAt: now.toISOString(), filter: req.filter };
    await this.deps.tasks.save(task);
    await this.queue.add('replay', { ...req, taskId: task.id }, { jobId: task.id });
    return task;
  }

  get(id: string): Promise<ReplayTask | undefined> {
    return this.deps.tasks.get(id);
  }

  /** Runs replay jobs in this process (where the delivery workers run). */
  startWorker(connection: Redis | Cluster): void {
    this.worker = new Worker(QUEUE, (job: Job<ReplayRequest & { taskId: string }>) => this.run(job.data), { connection, prefix: this.deps.queuePrefix, concurrency: 1 });
    this.worker.on('error', (err) => logRepeated(this.deps.logger, 'error', 'replay', err, {}, 'replay worker error'));
  }

  private async run(req: ReplayRequest & { taskId: string }): Promise<void> {
    const { ledger, search, config, logger } = this.deps;
    const task = (await this.get(req.taskId)) ?? { id: req.taskId, status: 'queued', requestedBy: req.requestedBy, createdAt: new Date().toISOString(), filter: req.filter };
    await this.deps.tasks.save({ ...task, status: 'running' });
    const scope = new ScopeCheck(req.scope, config.facilities);
    const ids = await search.problemIds(req.filter, (p) => scope.covers(p));
    let replayed = 0;
    for (const { id, upstream } of ids) if (await ledger.requeue(id, upstream)) replayed += 1;
    await this.deps.tasks.save({ ...task, status: 'done', matched: ids.length, replayed, finishedAt: new Date().toISOString() });
    logger.info({ task: req.taskId, matched: ids.length, replayed, by: req.requestedBy }, 'bulk replay done');
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
  }
}
