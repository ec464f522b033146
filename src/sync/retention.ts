import type { Logger } from 'pino';
import type { RetentionConfig } from '../config/types.js';
import { logRepeated } from '../log/logger.js';
import type { Ledger } from './ledger.js';
import type { StorePressure } from './store-pressure.js';

// A store above its high-water mark is looked at this often: what retention may drop is dropped
// then, not at the next hourly sweep, since it is memory delivery can use.
const PRESSURE_LOOK_MS = 10_000;

/** A store whose rows expire but are not removed by the store itself (PostgreSQL; Redis expires its keys). */
export interface Expiring {
  /** what it holds, for the log */
  name: string;
  /** deletes what is past its expiry; returns how many */
  dropExpired(): Promise<number>;
}

/** What retention asks of the ledger; whole months only of a ledger that keeps records by month (PostgreSQL). */
export type RetainingLedger = Pick<Ledger, 'dropSyncedPayloads' | 'dropSettledPayloads'> & { dropRecordMonths?(keepFromMonth: Date): Promise<string[]> };

/** The first month whose records `recordMonths` keeps (UTC): each record stays more than that many months. */
export function firstMonthKept(now: number, recordMonths: number): Date {
  const d = new Date(now);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - recordMonths, 1));
}

/**
 * Retention: once a record is synced at every upstream, its payload (names, NIKs, the Bundle) is
 * kept `payloadDays` more, then dropped. With `recordMonths`, a ledger that keeps records by month
 * (PostgreSQL) also drops whole months past it; and what has expired in the stores that do not
 * remove it themselves is deleted. Safe to run in several processes at once.
 */
export class RetentionSweeper {
  private timer: NodeJS.Timeout | undefined;
  private pressureTimer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(private readonly deps: { ledger: RetainingLedger; retention: RetentionConfig; logger: Logger; pressure?: StorePressure; expiring?: readonly Expiring[] }) {}

  start(): void {
    const every = this.deps.retention.sweepIntervalMinutes * 60_000;
    this.timer = setInterval(() => this.sweepInBackground(), every);
    this.timer.unref();
    const { pressure } = this.deps;
    if (pressure) {
      this.pressureTimer = setInterval(() => void pressure.full().then((full) => full && this.sweepInBackground()), PRESSURE_LOOK_MS);
      this.pressureTimer.unref();
    }
  }

  private sweepInBackground(): void {
    this.running ??= this.sweep()
      .catch((err: unknown) => logRepeated(this.deps.logger, 'warn', 'retention', err, {}, 'retention sweep failed; next time'))
      .finally(() => (this.running = undefined));
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.pressureTimer) clearInterval(this.pressureTimer);
    await this.running;
  }

  /** Drops the payloads whose time has come (returns how many), then what has expired. */
  async sweep(now = Date.now()): Promise<number> {
    const { ledger, retention, logger } = this.deps;
    const synced = await ledger.dropSyncedPayloads(now - retention.payloadDays * 86_400_000, now);
    if (synced > 0) logger.info({ dropped: synced, payloadDays: retention.payloadDays }, 'retention: dropped the payloads of records synced everywhere');
    // Records that never got through everywhere, once delivery has stopped trying.
    const settled = await ledger.dropSettledPayloads(now - retention.unsyncedPayloadDays * 86_400_000, now);
    if (settled > 0) logger.info({ dropped: settled, unsyncedPayloadDays: retention.unsyncedPayloadDays }, 'retention: dropped the payloads of records that failed to get through');
    const { recordMonths } = retention;
    if (recordMonths !== undefined && ledger.dropRecordMonths) {
      const partitions = await ledger.dropRecordMonths(firstMonthKept(now, recordMonths));
      if (partitions.length > 0) logger.info({ partitions: partitions.length, recordMonths }, 'retention: dropped the whole records of the months past recordMonths');
    }
    for (const store of this.deps.expiring ?? []) {
      const expired = await store.dropExpired();
      if (expired > 0) logger.info({ dropped: expired, store: store.name }, 'retention: deleted what had expired');
    }
    return synced + settled;
  }
}
