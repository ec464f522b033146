import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { WeighingHistory } from '../indicators/growth/weight-gain.js';

// What Gerbang remembers of each child, to judge a new record against the earlier ones: weighings by
// month (N/T) and immunisation doses received (status, IDL). Keyed by a hash of the identity (NIK,
// or the mother's NIK + birth date + birth order), so that no NIK is a Redis key.

/** Where an entry was recorded: the posyandu of the record it came from (absent in entries kept before places were). */
export interface Placed {
  posyandu?: string;
}

/** Doses received through Gerbang, by "antigen.dose". */
export type DoseHistory = Record<string, { date: string; recordKey: string } & Placed>;

export interface SubjectHistory {
  weighings?: WeighingHistory;
  doses?: DoseHistory;
}

/**
 * The part of a history recorded at the posyandu `covers` allows. An entry without a place (kept
 * before entries had one) cannot be placed, so it is left out too.
 */
export function historyWithin(history: SubjectHistory, covers: (posyandu: string) => boolean): SubjectHistory {
  const keep = <E extends Placed>(entries: Record<string, E> | undefined) =>
    entries && Object.fromEntries(Object.entries(entries).filter(([, e]) => typeof e.posyandu === 'string' && covers(e.posyandu)));
  const weighings = keep(history.weighings as Record<string, WeighingHistory[string] & Placed> | undefined);
  const doses = keep(history.doses);
  return { ...(weighings ? { weighings } : {}), ...(doses ? { doses } : {}) };
}

/** A person's key in Redis: a hash of the identity, never the NIK itself. */
export function subjectKey(identity: string | undefined): string {
  return identity ? createHash('sha256').update(identity).digest('hex').slice(0, 40) : '';
}

const keyOf = (what: 'weighing' | 'doses', identity: string) => `g:${what}:${subjectKey(identity)}`;

/** One thing to remember of an accepted record. */
export type Memory =
  | { what: 'weighing'; field: string; entry: WeighingHistory[string] & Placed }
  | { what: 'doses'; field: string; entry: DoseHistory[string] };

export class SubjectHistoryStore {
  constructor(private readonly redis: Redis) {}

  /** The history a record of this kind is judged against (none for kinds that need none). */
  async forRecord(body: unknown): Promise<SubjectHistory | undefined> {
    const need = historyNeeded(body);
    if (!need) return undefined;
    const h = await this.redis.hgetall(keyOf(need.what, need.identity));
    const parsed = Object.fromEntries(Object.entries(h).map(([k, v]) => [k, JSON.parse(v) as unknown]));
    return need.what === 'weighing' ? { weighings: parsed as WeighingHistory } : { doses: parsed as DoseHistory };
  }

  async remember(body: unknown, memory: Memory): Promise<void> {
    const identity = identityOf(body);
    if (identity) await this.redis.hset(keyOf(memory.what, identity), memory.field, JSON.stringify(memory.entry));
  }
}

/** Whether a record of this kind, for this identity, is judged against a history at all. */
export function usesHistory(body: unknown): boolean {
  return historyNeeded(body) !== undefined;
}

function historyNeeded(body: unknown): { what: 'weighing' | 'doses'; identity: string } | undefined {
  const kind = (body as { kind?: unknown } | null)?.kind;
  const what = kind === 'anthropometry' ? 'weighing' : kind === 'immunization' ? 'doses' : undefined;
  const identity = identityOf(body);
  return what && identity ? { what, identity } : undefined;
}

/** The identity a record belongs to, read defensively from a body not yet validated. */
export function identityOf(body: unknown): string | undefined {
  const s = (body as { subject?: { nik?: unknown; birthDate?: unknown; birthOrder?: unknown; mother?: { nik?: unknown } } } | null)?.subject;
  if (typeof s?.nik === 'string') return `nik:${s.nik}`;
  if (typeof s?.mother?.nik === 'string' && typeof s.birthDate === 'string') {
    return `newborn:${s.mother.nik}.${s.birthDate}.${typeof s.birthOrder === 'number' ? s.birthOrder : 1}`;
  }
  return undefined;
}
