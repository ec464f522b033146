import type { Bundle } from '@medplum/fhirtypes';
import type { Redis } from 'ioredis';
import type { Issue } from '../errors/gerbang-error.js';
import { peopleOf, type People } from '../log/identity-mask.js';
import type { CanonicalRecord } from '../records/schemas/index.js';
import { reportingDay, transitionLua } from './aggregates.js';
import { REPLAYABLE, type UpstreamStatus } from './states.js';
import { PayloadUnreadableError } from './payload-cipher.js';
import type { StoredPayload, Unreadable } from './stored-payload.js';

// The ledger keeps each accepted record, its mapped Bundle and its state at every upstream, in
// Redis next to the queue. Keys:
//   g:idx:{source}\n{recordId}  → record id (the idempotency key)
//   g:rec:{id}                  → hash: metadata, record, bundle, provenance (sealed: stored-payload.ts),
//                                  and one field u:{upstream} per upstream
//                                  (its state there, with the upstream ids of what it wrote: `resources`
//                                  once synced, `held` from the last synced version until then)
//   g:received                  → sorted set of record ids by time received
//   g:inbox                     → list of "{id} {version}" accepted but not yet turned into jobs
//   g:order:{subject}:{upstream} → a person's records not yet settled at an upstream, in the order
//                                  they were accepted: the worker pushes only the first one
// and the counts of aggregates.ts, kept by the same scripts.

const PREFIX = 'g:';
const recordKey = (id: string) => `${PREFIX}rec:${id}`;
const indexKey = (source: string, recordId: string) => `${PREFIX}idx:${source}\n${recordId}`;
const receivedKey = `${PREFIX}received`;
const orderKey = (subject: string, upstream: string) => `${PREFIX}order:${subject}:${upstream}`;
export const inboxKey = `${PREFIX}inbox`;

export interface NewRecord {
  id: string;
  source: string;
  record: CanonicalRecord;
  contentHash: string;
  bundle: Bundle;
  indicators: Record<string, unknown>;
  warnings: Issue[];
  /** where the history behind the history-derived indicators was recorded (absent: none used) */
  historyFrom?: string[];
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
  /** the Bundle is sealed with a key this process does not have, or was changed */
  | { kind: 'unreadable'; error: PayloadUnreadableError; status: UpstreamStatus; receivedAt: string; subject: string }
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
  /** where the history behind the history-derived indicators was recorded (none for records of 0.4 and before) */
  historyFrom: string[];
  provenance?: unknown[];
  /** the names and NIKs the record carries (none once its payload is dropped), to mask them where a key may not see them */
  people: People;
  /** when retention dropped the record's payload (names, NIKs, Bundle) */
  payloadDroppedAt?: string;
  /** the sealed payload cannot be read (its key is not configured, or it was changed): names, NIKs and provenance are left out */
  payloadUnreadable?: Unreadable;
  upstreams: Record<string, UpstreamStatus>;
}

// What a new version inherits from the state it replaces at an upstream: the ids the upstream
// holds for the record (the resources of the last version synced there, which the new version
// updates in place), and an earlier push still in flight, which the new version's push waits for
// so that an older write never lands after a newer one.
const carryOverLua = `
local function carryOver(p, st)
  if p.state == 'synced' and type(p.resources) == 'table' and next(p.resources) ~= nil then
    st.held = p.resources
    st.heldVersion = p.version
  elseif type(p.held) == 'table' and next(p.held) ~= nil then
    st.held = p.held
    st.heldVersion = p.heldVersion
  end
  if p.state == 'sending' and p.sendingUntil then
    st.earlierSending = {version = p.version, untilMs = p.sendingUntil}
  elseif p.earlierSending then
    st.earlierSending = p.earlierSending
  end
end
`;

// Accepting is one atomic step, so two copies of a record posted at once cannot both become new,
// and a record is never stored without its delivery being due: the same step puts it in the inbox,
// which the dispatcher turns into queue jobs. A changed record becomes the next version and every
// upstream goes back to queued for it. A copy for another posyandu is not a new version: the
// script answers place-changed with the record's own posyandu and writes nothing.
const acceptScript = `${transitionLua}
${carryOverLua}
local idxKey, receivedKey, inboxKey = KEYS[1], KEYS[2], KEYS[3]
local newId, hash, now, score = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local nUp = tonumber(ARGV[5])
local day = ARGV[#ARGV]
local existing = redis.call('GET', idxKey)
local id, outcome, version
if existing then
  id = existing
  local recKey = '${PREFIX}rec:' .. id
  -- a record belongs to its place: another posyandu's copy is refused, and nothing changes
  local stored = redis.call('HGET', recKey, 'posyandu')
  for i = 6 + nUp, #ARGV - 1, 2 do
    if ARGV[i] == 'posyandu' and stored and ARGV[i + 1] ~= stored then
      return {id, 'place-changed', tonumber(redis.call('HGET', recKey, 'version')), stored}
    end
  end
  if redis.call('HGET', recKey, 'contentHash') == hash then
    return {id, 'duplicate', tonumber(redis.call('HGET', recKey, 'version'))}
  end
  version = redis.call('HINCRBY', recKey, 'version', 1)
  outcome = 'new-version'
else
  id = newId
  redis.call('SET', idxKey, id)
  redis.call('ZADD', receivedKey, score, id)
  version = 1
  outcome = 'created'
  local recKey = '${PREFIX}rec:' .. id
  redis.call('HSET', recKey, 'id', id, 'version', 1, 'receivedAt', now)
end
local recKey = '${PREFIX}rec:' .. id
local fields = {'contentHash', hash, 'updatedAt', now, 'acceptedMs', score, 'unsynced', nUp}
for i = 6 + nUp, #ARGV - 1, 2 do
  fields[#fields + 1] = ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
end
redis.call('HSET', recKey, unpack(fields))
local subject = redis.call('HGET', recKey, 'subject')
local placeFields = redis.call('HMGET', recKey, 'regency', 'puskesmas', 'posyandu')
local place = (placeFields[1] or '') .. '|' .. (placeFields[2] or '') .. '|' .. (placeFields[3] or '')
if outcome == 'created' then redis.call('ZADD', 'g:byposyandu:' .. (placeFields[3] or ''), score, id) end
redis.call('ZREM', 'g:purge', id)
for i = 6, 5 + nUp do
  local U = ARGV[i]
  local previous = redis.call('HGET', recKey, 'u:' .. U)
  local from = nil
  local st = {state = 'queued', version = version, attempts = 0, updatedAt = now}
  if previous then
    local p = cjson.decode(previous)
    from = p.state
    carryOver(p, st)
  end
  redis.call('HSET', recKey, 'u:' .. U, cjson.encode(st))
  transition(recKey, U, from, 'queued', tonumber(score), day, now)
  local dayKey = 'g:agg:day:' .. U .. ':' .. day
  redis.call('HINCRBY', dayKey, place .. '|accepted', 1)
  if subject and subject ~= '' then
    local orderKey = '${PREFIX}order:' .. subject .. ':' .. ARGV[i]
    if not redis.call('LPOS', orderKey, id) then redis.call('RPUSH', orderKey, id) end
  end
end
redis.call('RPUSH', inboxKey, id .. ' ' .. version)
return {id, outcome, version}
`;

// A worker writes a state only for the version it worked on or a newer one: a slow push of an old
// version must not overwrite the state of the version that superseded it. What such a push wrote
// is kept, though: those are the resources the newer version is to update, and its end lets the
// newer version's push go. With a subject (ARGV[6]) the record also leaves its person's queue at
// this upstream: it is settled there.
const setStateScript = `${transitionLua}
local current = redis.call('HGET', KEYS[1], 'u:' .. ARGV[1])
if not current then return 0 end
local incoming = cjson.decode(ARGV[2])
local old = cjson.decode(current)
if old.version > incoming.version then
  local changed = false
  if old.state ~= 'synced' and incoming.state == 'synced' and type(incoming.resources) == 'table' and next(incoming.resources) ~= nil
     and (old.heldVersion or 0) < incoming.version then
    old.held = incoming.resources
    old.heldVersion = incoming.version
    changed = true
  end
  if old.earlierSending and old.earlierSending.version == incoming.version and incoming.state ~= 'sending' then
    old.earlierSending = nil
    changed = true
  end
  if changed then redis.call('HSET', KEYS[1], 'u:' .. ARGV[1], cjson.encode(old)) end
  return 0
end
redis.call('HSET', KEYS[1], 'u:' .. ARGV[1], ARGV[2])
transition(KEYS[1], ARGV[1], old.state, incoming.state, tonumber(ARGV[3]), ARGV[4], ARGV[5])
if ARGV[6] and ARGV[6] ~= '' then
  redis.call('LREM', '${PREFIX}order:' .. ARGV[6] .. ':' .. ARGV[1], 1, redis.call('HGET', KEYS[1], 'id'))
end
return 1
`;

// What a worker reads before a push, in one step: the record's Bundle and state at the upstream,
// and whether it is its person's next record there and no earlier version of it may still be
// writing (ARGV[3] is now). A job of an older version, or of a record already settled, ends here
// (a settled one also leaves its person's queue).
const beginScript = `
local U, v = ARGV[1], tonumber(ARGV[2])
local f = redis.call('HMGET', KEYS[1], 'version', 'receivedAt', 'bundle', 'u:' .. U, 'subject', 'id', 'source', 'recordId')
if not f[1] or not f[2] or not f[3] or not f[4] then return {'missing'} end
local st = cjson.decode(f[4])
if tonumber(f[1]) > v or st.version > v then return {'superseded'} end
local subject = f[5] or ''
local orderKey = '${PREFIX}order:' .. subject .. ':' .. U
if st.state == 'synced' or st.state == 'failed' then
  if subject ~= '' then redis.call('LREM', orderKey, 1, f[6]) end
  return {'settled', st.state}
end
if subject ~= '' then
  local head = redis.call('LINDEX', orderKey, 0)
  if head and head ~= f[6] then return {'wait'} end
end
if st.earlierSending and tonumber(st.earlierSending.untilMs or 0) > tonumber(ARGV[3]) then return {'wait'} end
return {'go', f[3], f[4], f[2], subject, f[7] or '', f[8] or ''}
`;

// A person's replay: back to queued at one upstream, attempts from zero, and into the inbox as a
// job for that upstream only. The replay count makes a new job id (the old job may still be kept).
const requeueScript = `${transitionLua}
local recKey, inbox = KEYS[1], KEYS[2]
local U, nowMs, day, nowIso = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local current = redis.call('HGET', recKey, 'u:' .. U)
if not current then return 0 end
-- nothing to send again once retention dropped the payload
if redis.call('HEXISTS', recKey, 'bundle') == 0 then return 0 end
local st = cjson.decode(current)
local replayable = false
for i = 5, #ARGV do if ARGV[i] == st.state then replayable = true end end
if not replayable then return 0 end
local from = st.state
st.state = 'queued'
st.attempts = 0
st.identityWaits = nil
st.replays = (st.replays or 0) + 1
st.updatedAt = nowIso
st.nextAttemptAt = nil
redis.call('HSET', recKey, 'u:' .. U, cjson.encode(st))
transition(recKey, U, from, 'queued', nowMs, day, nowIso)
local f = redis.call('HMGET', recKey, 'id', 'subject')
if f[2] and f[2] ~= '' then
  local orderKey = '${PREFIX}order:' .. f[2] .. ':' .. U
  if not redis.call('LPOS', orderKey, f[1]) then redis.call('RPUSH', orderKey, f[1]) end
end
redis.call('RPUSH', inbox, f[1] .. ' ' .. st.version .. ' ' .. U .. ' ' .. st.replays)
return 1
`;

type LedgerRedis = Redis & {
  gerbangRequeue(key: string, inbox: string, upstream: string, nowMs: number, day: string, nowIso: string, ...states: string[]): Promise<number>;
  gerbangAccept(...args: Array<string | number | Buffer>): Promise<[string, AcceptResult['outcome'] | 'place-changed', number, string?]>;
  gerbangSetState(key: string, upstream: string, state: string, nowMs: number, day: string, nowIso: string, settleSubject?: string): Promise<number>;
  gerbangBeginBuffer(key: string, upstream: string, version: number, nowMs: number): Promise<Buffer[]>;
};

export class Ledger {
  private readonly redis: LedgerRedis;

  constructor(
    redis: Redis,
    private readonly payload: StoredPayload,
  ) {
    redis.defineCommand('gerbangAccept', { numberOfKeys: 3, lua: acceptScript });
    redis.defineCommand('gerbangSetState', { numberOfKeys: 1, lua: setStateScript });
    redis.defineCommand('gerbangRequeue', { numberOfKeys: 2, lua: requeueScript });
    redis.defineCommand('gerbangBegin', { numberOfKeys: 1, lua: beginScript });
    this.redis = redis as LedgerRedis;
  }

  async accept(r: NewRecord): Promise<AcceptResult | PlaceChanged> {
    const now = r.receivedAt.toISOString();
    const fields: Record<string, string | Buffer> = {
      source: r.source,
      recordId: r.record.recordId,
      kind: r.record.kind,
      posyandu: r.posyandu,
      puskesmas: r.puskesmas,
      regency: r.regency,
      subject: r.subject,
      ...this.payload.seal(r.source, r.record.recordId, { record: r.record, bundle: r.bundle, ...(r.provenance ? { provenance: r.provenance } : {}) }),
      warnings: JSON.stringify(r.warnings),
      indicators: JSON.stringify(r.indicators),
      ...(r.historyFrom?.length ? { historyFrom: JSON.stringify(r.historyFrom) } : {}),
    };
    const [id, outcome, version, storedPosyandu] = await this.redis.gerbangAccept(
      indexKey(r.source, r.record.recordId),
      receivedKey,
      inboxKey,
      r.id,
      r.contentHash,
      now,
      r.receivedAt.getTime(),
      r.upstreams.length,
      ...r.upstreams,
      ...Object.entries(fields).flat(),
      reportingDay(r.receivedAt.getTime()),
    );
    if (outcome === 'place-changed') return { id, outcome, version: Number(version), storedPosyandu: storedPosyandu ?? '' };
    return { id, outcome, version: Number(version) };
  }

  async get(id: string): Promise<StoredRecord | undefined> {
    const opened = this.payload.openRecord(await this.redis.hgetallBuffer(recordKey(id)));
    const h = opened.text;
    if (!h.id) return undefined;
    return {
      id: h.id,
      source: h.source ?? '',
      recordId: h.recordId ?? '',
      kind: h.kind ?? '',
      posyandu: h.posyandu ?? '',
      puskesmas: h.puskesmas ?? '',
      regency: h.regency ?? '',
      version: Number(h.version),
      receivedAt: h.receivedAt ?? '',
      updatedAt: h.updatedAt ?? '',
      warnings: h.warnings ? (JSON.parse(h.warnings) as Issue[]) : [],
      indicators: h.indicators ? (JSON.parse(h.indicators) as Record<string, unknown>) : {},
      historyFrom: h.historyFrom ? (JSON.parse(h.historyFrom) as string[]) : [],
      ...(opened.provenance ? { provenance: opened.provenance } : {}),
      people: peopleOf(opened.record),
      ...(h.payloadDroppedAt ? { payloadDroppedAt: h.payloadDroppedAt } : {}),
      ...(opened.unreadable ? { payloadUnreadable: opened.unreadable } : {}),
      upstreams: opened.upstreams,
    };
  }

  /** A record's state at one upstream, and its person (whose queue it leaves when settled). */
  async stateAt(id: string, upstream: string): Promise<{ status: UpstreamStatus; subject: string } | undefined> {
    const [status, subject] = await this.redis.hmget(recordKey(id), `u:${upstream}`, 'subject');
    if (!status) return undefined;
    return { status: this.payload.openStatus(id, upstream, status).status, subject: subject ?? '' };
  }

  /** The start of a push of `version` at the upstream: go (with what to send), wait for the person's earlier record, or nothing to do. */
  async beginDelivery(id: string, upstream: string, version: number, now = Date.now()): Promise<DeliveryStart> {
    // As Buffers: the Bundle is stored compressed, and a binary reply must not be decoded as text.
    const r = await this.redis.gerbangBeginBuffer(recordKey(id), upstream, version, now);
    switch (r[0]?.toString()) {
      case 'go': {
        const status = this.payload.openStatus(id, upstream, r[2]!.toString()).status;
        const common = { status, receivedAt: r[3]!.toString(), subject: r[4]?.toString() ?? '' };
        try {
          return { kind: 'go', bundle: this.payload.openBundle(r[5]!.toString(), r[6]!.toString(), r[1]!), ...common };
        } catch (error) {
          if (!(error instanceof PayloadUnreadableError)) throw error;
          return { kind: 'unreadable', error, ...common };
        }
      }
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
    const v = await this.redis.hget(recordKey(id), 'version');
    return v === null ? undefined : Number(v);
  }

  /** Writes the record's state at the upstream; `settleSubject` also lets the person's next record go. */
  async setState(id: string, upstream: string, status: UpstreamStatus, now = Date.parse(status.updatedAt), settleSubject?: string): Promise<boolean> {
    const at = Number.isNaN(now) ? Date.now() : now;
    const day = reportingDay(at);
    const iso = new Date(at).toISOString();
    const done = await this.redis.gerbangSetState(recordKey(id), upstream, this.payload.sealStatus(id, upstream, status), at, day, iso, ...(settleSubject ? [settleSubject] : []));
    return done === 1;
  }

  /** Replays the record at one upstream if it is failed or waiting; false when there was nothing to replay. */
  async requeue(id: string, upstream: string, now = Date.now()): Promise<boolean> {
    const done = await this.redis.gerbangRequeue(recordKey(id), inboxKey, upstream, now, reportingDay(now), new Date(now).toISOString(), ...REPLAYABLE);
    return done === 1;
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }
}
