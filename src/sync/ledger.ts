import type { Bundle } from '@medplum/fhirtypes';
import type { Redis } from 'ioredis';
import type { Issue } from '../errors/gerbang-error.js';
import { peopleOf, type People } from '../log/identity-mask.js';
import type { CanonicalRecord } from '../records/schemas/index.js';
import { reportingDay } from './aggregates.js';
import { REPLAYABLE, type UpstreamStatus } from './states.js';
import { packBundle, unpackBundle } from './stored-bundle.js';
import { RECORD_FIELDS, upstreamField, upstreamOfField, type StoreKeys } from './store/keys.js';
import { defineScripts, runScript } from './store/scripts.js';

// The ledger keeps each accepted record, its mapped Bundle and its state at every upstream, in
// Redis next to the queue: a hash per record, its idempotency index, the inbox of records not yet
// turned into jobs, each person's order of records per upstream, and the counts of aggregates.ts,
// all kept by the scripts in store/scripts (keys and fields in store/keys.ts).

export interface NewRecord {
  id: string;
  source: string;
  record: CanonicalRecord;
  contentHash: string;
  bundle: Bundle;
  indicators: Record<string, unknown>;
  warnings: Issue[];
  /** what the app sent and the rules applied, when a source adapter read it */
  provenance?: unknown[];
  /** a hash of the person's identity: their records reach each upstream in order */
  subject: string;
  posyandu: string;
  puskesmas: string;
  regency: string;
  receivedAt: Date;
  upstreams: string[];
}

export type DeliveryStart =
  | { kind: 'go'; bundle: Bundle; status: UpstreamStatus; receivedAt: string; subject: string }
  | { kind: 'settled'; state: UpstreamStatus['state'] }
  | { kind: 'wait' }
  | { kind: 'superseded' }
  | { kind: 'missing' };

export interface AcceptResult {
  id: string;
  outcome: 'created' | 'new-version' | 'duplicate';
  version: number;
}

/** The (source, recordId) is already a record of another posyandu (`storedPosyandu`): nothing was written. */
export interface PlaceChanged {
  id: string;
  outcome: 'place-changed';
  version: number;
  storedPosyandu: string;
}

export interface StoredRecord {
  id: string;
  source: string;
  recordId: string;
  kind: string;
  posyandu: string;
  puskesmas: string;
  regency: string;
  version: number;
  receivedAt: string;
  updatedAt: string;
  warnings: Issue[];
  indicators: Record<string, unknown>;
  provenance?: unknown[];
  /** the names and NIKs the record carries (none once its payload is dropped), to mask them where a key may not see them */
  people: People;
  /** when retention dropped the record's payload (names, NIKs, Bundle) */
  payloadDroppedAt?: string;
  upstreams: Record<string, UpstreamStatus>;
}

const F = RECORD_FIELDS;

export class Ledger {
  constructor(
    private readonly redis: Redis,
    private readonly keys: StoreKeys,
  ) {
    defineScripts(redis);
  }

  async accept(r: NewRecord): Promise<AcceptResult | PlaceChanged> {
    const now = r.receivedAt.toISOString();
    const fields: Record<string, string | Buffer> = {
      [F.source]: r.source,
      [F.recordId]: r.record.recordId,
      [F.kind]: r.record.kind,
      [F.posyandu]: r.posyandu,
      [F.puskesmas]: r.puskesmas,
      [F.regency]: r.regency,
      [F.subject]: r.subject,
      [F.record]: JSON.stringify(r.record),
      [F.bundle]: packBundle(r.bundle),
      [F.warnings]: JSON.stringify(r.warnings),
      [F.indicators]: JSON.stringify(r.indicators),
      ...(r.provenance ? { [F.provenance]: JSON.stringify(r.provenance) } : {}),
    };
    const { keys } = this;
    const [id, outcome, version, storedPosyandu] = await runScript<[string, AcceptResult['outcome'] | 'place-changed', number, string?]>(
      this.redis,
      'accept',
      [keys.index(r.source, r.record.recordId), keys.received, keys.inbox, keys.purge, keys.byPosyandu(r.posyandu)],
      [keys.prefix, r.id, r.contentHash, now, r.receivedAt.getTime(), r.upstreams.length, ...r.upstreams, ...Object.entries(fields).flat(), reportingDay(r.receivedAt.getTime())],
    );
    if (outcome === 'place-changed') return { id, outcome, version: Number(version), storedPosyandu: storedPosyandu ?? '' };
    return { id, outcome, version: Number(version) };
  }

  async get(id: string): Promise<StoredRecord | undefined> {
    const h = await this.redis.hgetall(this.keys.record(id));
    return h[F.id] ? storedRecord(h) : undefined;
  }

  /** A record's state at one upstream, and its person (whose queue it leaves when settled). */
  async stateAt(id: string, upstream: string): Promise<{ status: UpstreamStatus; subject: string } | undefined> {
    const [status, subject] = await this.redis.hmget(this.keys.record(id), upstreamField(upstream), F.subject);
    if (!status) return undefined;
    return { status: JSON.parse(status) as UpstreamStatus, subject: subject ?? '' };
  }

  /** The start of a push of `version` at the upstream: go (with what to send), wait for the person's earlier record, or nothing to do. */
  async beginDelivery(id: string, upstream: string, version: number, now = Date.now()): Promise<DeliveryStart> {
    // As Buffers: the Bundle is stored compressed, and a binary reply must not be decoded as text.
    const r = await runScript<Buffer[]>(this.redis, 'begin-delivery', [this.keys.record(id)], [this.keys.prefix, upstream, version, now], { buffers: true });
    switch (r[0]?.toString()) {
      case 'go':
        return { kind: 'go', bundle: unpackBundle(r[1]!), status: JSON.parse(r[2]!.toString()) as UpstreamStatus, receivedAt: r[3]!.toString(), subject: r[4]?.toString() ?? '' };
      case 'settled':
        return { kind: 'settled', state: r[1]!.toString() as UpstreamStatus['state'] };
      case 'wait':
        return { kind: 'wait' };
      case 'superseded':
        return { kind: 'superseded' };
      default:
        return { kind: 'missing' };
    }
  }

  /** The record's latest accepted version (undefined for an unknown record). */
  async latestVersion(id: string): Promise<number | undefined> {
    const v = await this.redis.hget(this.keys.record(id), F.version);
    return v === null ? undefined : Number(v);
  }

  /** Writes the record's state at the upstream; `settleSubject` also lets the person's next record go. */
  async setState(id: string, upstream: string, status: UpstreamStatus, now = Date.parse(status.updatedAt), settleSubject?: string): Promise<boolean> {
    const at = Number.isNaN(now) ? Date.now() : now;
    const args = [this.keys.prefix, upstream, JSON.stringify(status), at, reportingDay(at), new Date(at).toISOString(), ...(settleSubject ? [settleSubject] : [])];
    return (await runScript<number>(this.redis, 'set-state', [this.keys.record(id)], args)) === 1;
  }

  /** Replays the record at one upstream if it is failed or waiting; false when there was nothing to replay. */
  async requeue(id: string, upstream: string, now = Date.now()): Promise<boolean> {
    const args = [this.keys.prefix, upstream, now, reportingDay(now), new Date(now).toISOString(), ...REPLAYABLE];
    return (await runScript<number>(this.redis, 'requeue', [this.keys.record(id), this.keys.inbox], args)) === 1;
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }
}

/** A record's hash as the API shows it. */
export function storedRecord(h: Record<string, string>): StoredRecord {
  const upstreams: Record<string, UpstreamStatus> = {};
  for (const [field, value] of Object.entries(h)) {
    const upstream = upstreamOfField(field);
    if (upstream !== undefined) upstreams[upstream] = JSON.parse(value) as UpstreamStatus;
  }
  const text = (f: string) => h[f] ?? '';
  const json = <T>(f: string, absent: T): T => (h[f] ? (JSON.parse(h[f]) as T) : absent);
  return {
    id: text(F.id),
    source: text(F.source),
    recordId: text(F.recordId),
    kind: text(F.kind),
    posyandu: text(F.posyandu),
    puskesmas: text(F.puskesmas),
    regency: text(F.regency),
    version: Number(h[F.version]),
    receivedAt: text(F.receivedAt),
    updatedAt: text(F.updatedAt),
    warnings: json<Issue[]>(F.warnings, []),
    indicators: json<Record<string, unknown>>(F.indicators, {}),
    ...(h[F.provenance] ? { provenance: json<unknown[]>(F.provenance, []) } : {}),
    people: peopleOf(json<unknown>(F.record, undefined)),
    ...(h[F.payloadDroppedAt] ? { payloadDroppedAt: h[F.payloadDroppedAt] } : {}),
    upstreams,
  };
}
