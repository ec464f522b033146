// Every Redis key and record-hash field Gerbang's sync layer writes, named here once. TypeScript
// builds keys with `storeKeys(prefix)`; the Lua scripts get the same names from a preamble that
// scripts.ts generates from this module, and the prefix at run time (ARGV), so one script serves
// every prefix. The prefix is configuration (`redis.keyPrefix`): tests and tenants can share a
// server. With a hash tag in it (`{gerbang}:`), every key falls in one cluster slot, so the scripts
// that must compute keys at run time still run on Redis Cluster.

// Key layouts after the prefix. `<name>` is filled in, in this order, by the functions below.
export const KEY_LAYOUTS = {
  // the ledger (ledger.ts)
  /** record id of a (source, recordId): the idempotency key */
  index: 'idx:<source>\n<recordId>',
  /** hash: the record (RECORD_FIELDS) and its state at every upstream */
  record: 'rec:<id>',
  /** zset: record ids by time received */
  received: 'received',
  /** list: "<id> <version>" (or "<id> <version> <upstream> <replay>") accepted, not yet jobs */
  inbox: 'inbox',
  /** list: a person's records not yet settled at an upstream, in the order accepted */
  order: 'order:<subject>:<upstream>',
  // the counts (aggregates.ts); their fields are placeField(place, …)
  /** hash "<place>|<state>" → records in that state now */
  states: 'agg:st:<upstream>',
  /** hash "<place>|<event>" → accepted/synced/failed that day */
  day: 'agg:day:<upstream>:<day>',
  /** hash "<place>" → last time a record synced */
  lastSynced: 'agg:last:<upstream>',
  /** hash "<place>|<bucket>" → accepted→synced latencies */
  latency: 'agg:lat:<upstream>',
  /** zset: record ids by time accepted, while not synced (the backlog's age per posyandu) */
  pending: 'pending:<upstream>:<posyandu>',
  /** zset: the same for all posyandu */
  backlog: 'backlog:<upstream>',
  /** zset: record ids by time accepted, while failed or waiting for identity */
  problems: 'problems:<upstream>',
  /** zset: record ids by time accepted, while queued, sending or retrying (fairness, queues.ts) */
  inQueue: 'inqueue:<upstream>:<puskesmas>',
  /** zset: record ids by time received (GET /v1/records for an app) */
  byPosyandu: 'byposyandu:<posyandu>',
  /** zset: record ids by the time they became synced at every upstream (retention) */
  purge: 'purge',
  /** "<score> <records seen at that score>": how far the unsynced sweep went through `received` */
  unsyncedCursor: 'retention:unsynced-cursor',
  // around delivery
  dispatcherLock: 'dispatcher-lock',
  /** hash: CIRCUIT_FIELDS */
  circuit: 'circuit:<upstream>',
  /** a bulk replay task (JSON) */
  replayTask: 'replay:<id>',
  /** hash: what is remembered of a person ("weighing" or "doses"), by a keyed hash of the identity */
  history: '<what>:<subject>',
  // around the API
  /** failed authentications of one client address this minute */
  authFailures: 'authfail:<address>',
  /** records an API key took from its records-per-minute budget this window */
  recordBudget: 'rb:<keyId>',
  /** what @fastify/rate-limit puts before its own keys */
  rateLimit: 'rl:',
} as const;

export type KeyName = keyof typeof KEY_LAYOUTS;

/** Fields of a record's hash (KEY_LAYOUTS.record). */
export const RECORD_FIELDS = {
  id: 'id',
  version: 'version',
  source: 'source',
  recordId: 'recordId',
  kind: 'kind',
  posyandu: 'posyandu',
  puskesmas: 'puskesmas',
  regency: 'regency',
  /** a keyed hash of the person's identity */
  subject: 'subject',
  contentHash: 'contentHash',
  receivedAt: 'receivedAt',
  updatedAt: 'updatedAt',
  /** when the latest version was accepted (ms): the score of the count indexes */
  acceptedMs: 'acceptedMs',
  /** upstreams the latest version is not synced at yet */
  unsynced: 'unsynced',
  /** the payload: the canonical record (names, NIKs), the Bundle (gzip) and adapter provenance */
  record: 'record',
  bundle: 'bundle',
  provenance: 'provenance',
  warnings: 'warnings',
  indicators: 'indicators',
  /** where the history behind the history-derived indicators was recorded (JSON list of posyandu) */
  historyFrom: 'historyFrom',
  payloadDroppedAt: 'payloadDroppedAt',
} as const;

export type RecordField = (typeof RECORD_FIELDS)[keyof typeof RECORD_FIELDS];

/** The record's state at an upstream (JSON UpstreamStatus) is the field UPSTREAM_FIELD_PREFIX + its name. */
export const UPSTREAM_FIELD_PREFIX = 'u:';

/**
 * In a stored state (an UPSTREAM_FIELD_PREFIX field), the property holding the upstream's words
 * (its error message, its OperationOutcome) sealed: stored-payload.ts writes it, retention drops it.
 */
export const SEALED_WORDS_PROPERTY = 'sealed';

/** What retention drops of a record. */
export const PAYLOAD_FIELDS: readonly RecordField[] = [RECORD_FIELDS.record, RECORD_FIELDS.bundle, RECORD_FIELDS.provenance];

/** Fields of a circuit's hash (KEY_LAYOUTS.circuit). */
export const CIRCUIT_FIELDS = {
  state: 'state',
  /** the latest pushes, oldest first: '1' failed, '0' answered */
  window: 'window',
  openUntil: 'openUntil',
  /** the length of the current or next opening */
  openMs: 'openMs',
  probeUntil: 'probeUntil',
} as const;

/** Joins the parts of a count's field: "<regency>|<puskesmas>|<posyandu>" and what is counted. */
export const PLACE_SEPARATOR = '|';

export interface StoreKeys {
  readonly prefix: string;
  /** BullMQ's prefix for the queues (redis.queuePrefix): it names their keys itself */
  readonly queuePrefix: string;
  index(source: string, recordId: string): string;
  record(id: string): string;
  readonly received: string;
  readonly inbox: string;
  order(subject: string, upstream: string): string;
  states(upstream: string): string;
  day(upstream: string, day: string): string;
  lastSynced(upstream: string): string;
  latency(upstream: string): string;
  pending(upstream: string, posyandu: string): string;
  backlog(upstream: string): string;
  problems(upstream: string): string;
  inQueue(upstream: string, puskesmas: string): string;
  byPosyandu(posyandu: string): string;
  readonly purge: string;
  readonly unsyncedCursor: string;
  readonly dispatcherLock: string;
  circuit(upstream: string): string;
  replayTask(id: string): string;
  history(what: 'weighing' | 'doses', subject: string): string;
  authFailures(address: string): string;
  recordBudget(keyId: string): string;
  readonly rateLimit: string;
}

/** The parts of a layout: literal text, and the names filled in. */
export function layoutParts(layout: string): Array<{ text: string } | { arg: string }> {
  return layout.split(/(<[a-zA-Z]+>)/).filter(Boolean).map((p) => (p.startsWith('<') ? { arg: p.slice(1, -1) } : { text: p }));
}

function builder(prefix: string, layout: string): (...args: string[]) => string {
  const parts = layoutParts(layout);
  return (...args) => {
    let i = 0;
    return prefix + parts.map((p) => ('text' in p ? p.text : args[i++] ?? '')).join('');
  };
}

/** The keys under a prefix (redis.keyPrefix), and the queues' (redis.queuePrefix). */
export function storeKeys(prefix: string, queuePrefix: string): StoreKeys {
  const b = Object.fromEntries(Object.entries(KEY_LAYOUTS).map(([name, layout]) => [name, builder(prefix, layout)])) as Record<KeyName, (...args: string[]) => string>;
  return Object.freeze({
    prefix,
    queuePrefix,
    index: b.index,
    record: b.record,
    received: b.received(),
    inbox: b.inbox(),
    order: b.order,
    states: b.states,
    day: b.day,
    lastSynced: b.lastSynced,
    latency: b.latency,
    pending: b.pending,
    backlog: b.backlog,
    problems: b.problems,
    inQueue: b.inQueue,
    byPosyandu: b.byPosyandu,
    purge: b.purge(),
    unsyncedCursor: b.unsyncedCursor(),
    dispatcherLock: b.dispatcherLock(),
    circuit: b.circuit,
    replayTask: b.replayTask,
    history: b.history,
    authFailures: b.authFailures,
    recordBudget: b.recordBudget,
    rateLimit: b.rateLimit(),
  });
}

/** The hash field of a record's state at an upstream. */
export function upstreamField(upstream: string): string {
  return UPSTREAM_FIELD_PREFIX + upstream;
}

/** The upstream a record-hash field is the state at, or undefined for another field. */
export function upstreamOfField(field: string): string | undefined {
  return field.startsWith(UPSTREAM_FIELD_PREFIX) ? field.slice(UPSTREAM_FIELD_PREFIX.length) : undefined;
}

/** A count's field ("<regency>|<puskesmas>|<posyandu>|…"): the place, and what is counted there. */
export function placeOf(field: string): { place: { regency: string; puskesmas: string; posyandu: string }; rest: string } {
  const [regency = '', puskesmas = '', posyandu = '', ...rest] = field.split(PLACE_SEPARATOR);
  return { place: { regency, puskesmas, posyandu }, rest: rest.join(PLACE_SEPARATOR) };
}

/** A SCAN pattern for every key that starts with `start` (a prefix may hold *, ?, [ or a backslash). */
export function scanPattern(start: string): string {
  return start.replace(/[*?[\]\\]/g, (c) => `\\${c}`) + '*';
}
