import { createHash, createHmac } from 'node:crypto';
import { readMapping } from '../tables/read-table.js';
import type { WeighingHistory } from '../indicators/growth/weight-gain.js';
import type { DoseHistory, Placed, SubjectHistory } from '../indicators/subject-history.js';
import { historyNeeded, identityOf } from '../records/subject-identity.js';

// What Gerbang remembers of each child, to judge a new record against the earlier ones: weighings by
// month (N/T) and immunisation doses received (status, IDL). Keyed by a keyed hash (HMAC-SHA256) of
// the identity (NIK, or the mother's NIK + birth date + birth order): NIKs are few enough (region,
// birth date, a 4-digit serial) that a plain hash is reversed by trying them all in seconds; without
// the secret, a copy of the store does not say whose history a key is.

/** How long the history is kept (mappings/history-retention.json). */
export interface HistoryRetention {
  weighingMonthsKept: number;
  weighingsUntilAgeMonths: number;
  dosesUntilAgeMonths: number;
  fallbackDays: number;
}

export function readHistoryRetention(): HistoryRetention {
  return readMapping<HistoryRetention>('history-retention.json', (d, fail) => {
    for (const k of ['weighingMonthsKept', 'weighingsUntilAgeMonths', 'dosesUntilAgeMonths', 'fallbackDays'] as const) {
      if (!Number.isInteger(d[k]) || d[k] < 1) fail(k, 'must be a whole number of at least 1');
    }
  });
}

/** One thing to remember of an accepted record. */
export type Memory =
  | { what: 'weighing'; field: string; entry: WeighingHistory[string] & Placed }
  | { what: 'doses'; field: string; entry: DoseHistory[string] };

export type What = Memory['what'];

/** One entry to write, as history-remember.lua takes it. */
export interface HistoryWrite {
  field: string;
  entry: Memory['entry'];
  /** seconds since the epoch: the whole history of that kind goes then, unless written again */
  expiresAt: number;
  /** the first month kept ('' keeps all); of the months before it only the newest stays */
  keepFrom: string;
}

/**
 * What the ingest and the map route use of a person's history. The store behind it is Redis
 * (store/redis-subject-history.ts) or PostgreSQL (pg/pg-subject-history.ts); the roles pick one
 * (src/roles/stores.ts).
 */
export interface SubjectHistoryStore {
  /** A person's key: a keyed hash of the identity, never the NIK itself nor a plain hash of it. */
  subjectKey(identity: string | undefined): string;
  /** The key of the person a record is about ('' when the record does not say). */
  subjectOf(body: unknown): string;
  /** The history a record of this kind is judged against (none for kinds that need none). */
  forRecord(body: unknown): Promise<SubjectHistory | undefined>;
  remember(body: unknown, memory: Memory, now?: number): Promise<void>;
}

/**
 * The part both stores share, so they cannot differ in it: the keyed hash, which history a record
 * needs, and what a memory writes (expiry, the months kept). A store only reads and writes entries,
 * with the meaning of history-read.lua and history-remember.lua.
 */
export abstract class KeyedSubjectHistory implements SubjectHistoryStore {
  /** `secret`: security.historyKey, or the one generated into the data directory. */
  constructor(
    private readonly secret: string,
    private readonly retention: HistoryRetention,
  ) {}

  subjectKey(identity: string | undefined): string {
    return identity ? createHmac('sha256', this.secret).update(identity).digest('hex').slice(0, 40) : '';
  }

  subjectOf(body: unknown): string {
    return this.subjectKey(identityOf(body));
  }

  async forRecord(body: unknown): Promise<SubjectHistory | undefined> {
    const need = historyNeeded(body);
    if (!need) return undefined;
    const entries = await this.read(need.what, this.subjectKey(need.identity), legacySubjectKey(need.identity));
    return need.what === 'weighing' ? { weighings: entries as WeighingHistory } : { doses: entries as DoseHistory };
  }

  async remember(body: unknown, memory: Memory, now = Date.now()): Promise<void> {
    const identity = identityOf(body);
    if (!identity) return;
    const keepFrom = memory.what === 'weighing' ? monthsBefore(memory.field, this.retention.weighingMonthsKept) : '';
    await this.write(memory.what, this.subjectKey(identity), { field: memory.field, entry: memory.entry, expiresAt: expiryOf(this.retention, memory.what, body, now), keepFrom });
  }

  /**
   * The entries of a person's history of one kind, by field, expired ones left out. A 0.3.x
   * history (under `legacyKey`, a plain SHA-256 of the identity) becomes the keyed one the first
   * time the person is seen again, when there is no keyed one, so the history carries on.
   */
  protected abstract read(what: What, key: string, legacyKey: string): Promise<Record<string, unknown>>;

  /** Writes one entry, drops the months before `keepFrom` but the newest of them, and sets the expiry of the whole history. */
  protected abstract write(what: What, key: string, w: HistoryWrite): Promise<void>;
}

/** The person's key in 0.3.x, to carry a history over (see read). */
function legacySubjectKey(identity: string): string {
  return createHash('sha256').update(identity).digest('hex').slice(0, 40);
}

/** "YYYY-MM" `n` months before a "YYYY-MM" field. */
function monthsBefore(field: string, n: number): string {
  const m = /^(\d{4})-(\d{2})$/.exec(field);
  if (!m) return '';
  const index = Number(m[1]) * 12 + Number(m[2]) - 1 - n;
  return `${String(Math.floor(index / 12)).padStart(4, '0')}-${String((index % 12) + 1).padStart(2, '0')}`;
}

/** When a history may go (seconds since the epoch): the child past the age it serves, or the fallback. */
function expiryOf(retention: HistoryRetention, what: What, body: unknown, now: number): number {
  const birth = (body as { subject?: { birthDate?: unknown } } | null)?.subject?.birthDate;
  const months = what === 'weighing' ? retention.weighingsUntilAgeMonths : retention.dosesUntilAgeMonths;
  const born = typeof birth === 'string' ? /^(\d{4})-(\d{2})-(\d{2})/.exec(birth) : null;
  if (!born) return Math.floor(now / 1000) + retention.fallbackDays * 86_400;
  const until = Date.UTC(Number(born[1]), Number(born[2]) - 1 + months, Number(born[3]));
  // at least a day, so that a record past the age still sees its own month
  return Math.floor(Math.max(until, now + 86_400_000) / 1000);
}


