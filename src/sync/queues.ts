import { Queue } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import { MAX_PRIORITY } from './retry-policy.js';
import type { Ledger } from './ledger.js';
import type { StoreKeys } from './store/keys.js';

export interface DeliveryJob {
  recordId: string;
  version: number;
  /** set on a person's replay: a new job for a version that already had one */
  replay?: number;
}

/** Each upstream has its own queue, so a slow or dead upstream never takes the workers of another. */
export function queueName(upstream: string): string {
  return `push-${upstream}`;
}

/** The job id makes enqueueing idempotent: one job per record version and upstream. */
export function jobId(recordId: string, version: number, replay?: number): string {
  return replay ? `${recordId}.v${version}.r${replay}` : `${recordId}.v${version}`;
}

// Job options for failures our retry policy did not decide on (a bug, Redis going away mid-job):
// BullMQ retries those a few times on its own. Finished jobs are trimmed; the ledger keeps the state.
const defaultJobOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 5_000 },
  removeOnComplete: { age: 3_600, count: 10_000 },
  removeOnFail: { age: 7 * 86_400 },
} as const;

export class DeliveryQueues {
  private readonly queues = new Map<string, Queue<DeliveryJob>>();

  constructor(
    connection: Redis | Cluster,
    upstreams: string[],
    keys: StoreKeys,
    private readonly ledger: Pick<Ledger, 'queueRanks'>,
  ) {
    for (const name of upstreams) {
      this.queues.set(name, new Queue<DeliveryJob>(queueName(name), { connection, prefix: keys.queuePrefix, defaultJobOptions }));
    }
  }

  async enqueueMany(jobs: DeliveryJob[], upstreams: Iterable<string>): Promise<void> {
    if (jobs.length === 0) return;
    // Fairness by puskesmas: BullMQ (without Pro's groups) serves the lowest priority number first,
    // so a job's priority is its record's place in its own puskesmas' queue. The 10th record of
    // every puskesmas goes before the 11th of any: a puskesmas that sends a year of records after
    // being offline does not hold up the others.
    const ids = jobs.map((j) => j.recordId);
    await Promise.all(
      [...upstreams].map(async (name) => {
        const priorities = await this.ledger.queueRanks(name, ids);
        await this.queue(name).addBulk(
          jobs.map((data, i) => ({
            name: 'push',
            data,
            opts: { jobId: jobId(data.recordId, data.version, data.replay), priority: Math.min(MAX_PRIORITY, priorities[i] ?? 1) },
          })),
        );
      }),
    );
  }

  queue(name: string): Queue<DeliveryJob> {
    const q = this.queues.get(name);
    if (!q) throw new Error(`no queue for upstream ${name}`);
    return q;
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
