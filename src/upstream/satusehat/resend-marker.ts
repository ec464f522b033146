import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { DEFAULT_KEY_PREFIX } from './key-prefix.js';

// After a timeout or a 5xx Gerbang cannot tell whether SATUSEHAT committed the transaction, and
// without conditional create a blind resend would either duplicate the record or be refused as a
// duplicate. This marker says "a transaction for this record version went out before", so the next
// attempt first looks each resource up by identifier. It is set before every send and left to
// expire: a replay of a delivered version then adopts instead of posting again.

const TTL_SECONDS = 30 * 24 * 3600;

export class ResendMarker {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly keyPrefix = DEFAULT_KEY_PREFIX,
  ) {}

  static key(recordId: string, version: number, keyPrefix = DEFAULT_KEY_PREFIX): string {
    return `${keyPrefix}ss:sent:${createHash('sha256').update(recordId).digest('hex').slice(0, 32)}:${version}`;
  }

  async wasSent(recordId: string, version: number): Promise<boolean> {
    return (await this.redis.exists(ResendMarker.key(recordId, version, this.keyPrefix))) === 1;
  }

  async markSending(recordId: string, version: number): Promise<void> {
    await this.redis.set(ResendMarker.key(recordId, version, this.keyPrefix), String(Date.now()), 'EX', TTL_SECONDS);
  }

  /** Nothing of this version was written (every transaction sent for it was answered with a refusal). */
  async clear(recordId: string, version: number): Promise<void> {
    await this.redis.del(ResendMarker.key(recordId, version, this.keyPrefix));
  }
}
