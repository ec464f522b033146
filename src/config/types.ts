// The configuration after validation and defaults: what the rest of the code reads. It is frozen.

export interface Timeouts {
  connectMs: number;
  headersMs: number;
  bodyMs: number;
  /** one request from its start to the last byte of its answer: a server that drips its answer is cut here */
  totalMs: number;
}

/** When an upstream keeps failing, Gerbang stops sending to it for a while and then probes it. */
export interface CircuitConfig {
  /** the fewest failures in the window that open the circuit (a dead upstream: this many in a row) */
  failureThreshold: number;
  /** the share of failed pushes among the last `windowSize` that opens it (0.5: half of them) */
  failureRate: number;
  /** how many of the latest pushes the rate is taken over */
  windowSize: number;
  /** how long the first opening lasts; each failed probe doubles it, up to maxOpenSeconds */
  openSeconds: number;
  maxOpenSeconds: number;
}

interface UpstreamCommon {
  name: string;
  /** pushes (jobs) per second across all workers; undefined: as fast as the workers go */
  pushesPerSecond: number | undefined;
  circuit: CircuitConfig;
}

export type UpstreamConfig = UpstreamCommon &
  (
    | {
        kind: 'fhir';
        baseUrl: string;
        headers: Record<string, string>;
        maxConnections: number;
        /** servers that cap conditional transactions (Medplum: 8) get the Bundle in ordered parts */
        maxEntriesPerTransaction: number | undefined;
        timeouts: Timeouts;
        /** an answer longer than this is not read further: the call fails as upstream.answer-too-large */
        maxAnswerBytes: number;
        /** `$map?validate=` has connections of its own, so a crowd of dry runs never holds the delivery pool */
        validation: { connections: number; totalMs: number };
      }
    | { kind: 'outbox'; directory: string }
    | {
        kind: 'satusehat';
        authUrl: string;
        baseUrl: string;
        /** by the puskesmas' SATUSEHAT Organization id: one client is bound to one Organization */
        credentials: Record<string, { clientId: string; clientSecret: string }>;
        timeouts: Timeouts;
        maxAnswerBytes: number;
        maxConnections: number;
        identityCacheHours: number;
        newbornMaxAgeDays: number;
      }
  );

export type TimeZone = 'WIB' | 'WITA' | 'WIT';

export interface Puskesmas {
  name: string;
  organizationId: string;
  regency: string;
  timeZone?: TimeZone;
}

export interface Posyandu {
  name: string;
  puskesmas: string;
  village?: string;
  /** its Location id at SATUSEHAT, when the puskesmas registered it there itself: referenced, never looked up or created */
  locationId?: string;
  supervisorNik?: string;
  timeZone?: TimeZone;
}

export interface IdentityWaitConfig {
  /** the first wait; each later one doubles */
  firstMinutes: number;
  /** the longest wait */
  maxHours: number;
  /** after this long since the record was received, it is failed for a person to decide */
  maxAgeDays: number;
}

export interface DeliveryConfig {
  concurrency: number;
  maxAttempts: number;
  maxAgeHours: number;
  baseDelayMs: number;
  maxDelayMs: number;
  lockDurationMs: number;
  /** the longest an upstream's Retry-After may pause its queue or a record; a longer one is read as this */
  maxRetryAfterSeconds: number;
  /** the slow schedule of a record whose patient or health worker the upstream does not know yet */
  identityWait: IdentityWaitConfig;
  /** run the worker inside the gateway process (the default) or only in `gerbang worker` processes */
  runWorker: boolean;
}

export interface ServerConfig {
  host: string;
  port: number;
  /** one record's body (POST /v1/records, $map, any JSON body) */
  bodyLimitBytes: number;
  batchMaxRecords: number;
  /** one record inside a $batch (a JSON array element or an NDJSON line) */
  batchRecordMaxBytes: number;
  /** a whole $batch request */
  batchMaxBytes: number;
  /** how deeply objects and arrays may nest in any JSON body */
  jsonMaxDepth: number;
  rateLimitPerMinute: number;
  /** records (a single POST, each element or line of a $batch) one key may send a minute */
  recordsPerMinute: number;
  /** failed authentications (401) one client address may make a minute before it gets 429 */
  authFailuresPerMinute: number;
  /** connection limits: see defaultConnectionLimits in load.ts for why each is what it is */
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxRequestsPerSocket: number;
  maxConnections: number;
}

export interface Config {
  /** where the config came from, for the start-up log */
  origin: 'file' | 'defaults';
  server: ServerConfig;
  /** absent: Gerbang starts a private redis-server under dataDir; with redis.cluster, the cluster's nodes, comma-separated */
  redisUrl: string | undefined;
  dataDir: string;
  logLevel: string;
  upstreams: UpstreamConfig[];
  facilities: { puskesmas: Record<string, Puskesmas>; posyandu: Record<string, Posyandu> };
  apiKeys: ApiKeyConfig[];
  delivery: DeliveryConfig;
  retention: RetentionConfig;
  adapters: AdaptersConfig;
  store: StoreConfig;
  redis: RedisConfig;
  ledger: LedgerConfig;
  database: DatabaseConfig;
  security: SecurityConfig;
}

export type LedgerStoreKind = 'postgres' | 'redis';

export interface LedgerConfig {
  /** where the ledger is kept: PostgreSQL (`database`), or Redis as in 0.4 and before */
  store: LedgerStoreKind;
}

export interface DatabaseConfig {
  /** DATABASE_URL, else the file's `database.url`; absent: Gerbang starts a private PostgreSQL under dataDir */
  url: string | undefined;
  /** connections of this process's pool (requests, workers, dispatcher and retention share it) */
  maxConnections: number;
  /** how long a call waits for a connection before it fails (ingest: a 503 the app retries) */
  connectionTimeoutMs: number;
  /** the longest one statement may run (PostgreSQL's statement_timeout) */
  statementTimeoutMs: number;
  /** an unused connection is closed after this long (0: kept) */
  idleTimeoutMs: number;
}

export interface AdaptersConfig {
  /** the site's own adapter files, beside the shipped mappings/adapters (same name: the site's wins) */
  directory?: string;
  /** reload when a file in an adapter folder changes (besides POST /v1/admin/adapters/$reload) */
  watch: boolean;
}

export interface RedisConfig {
  /** put before every key Gerbang writes, so that tests and tenants can share a server */
  keyPrefix: string;
  /** BullMQ's prefix for the delivery and replay queues */
  queuePrefix: string;
  /** Redis Cluster: REDIS_URL names one or more of its nodes (comma-separated), both prefixes carry a hash tag */
  cluster: boolean;
}

export interface StoreConfig {
  /** maxmemory given to the private redis-server (an external Redis keeps its own) */
  maxmemoryMb: number;
  /** share of the store's maxmemory above which ingest answers 503 store.full */
  highWaterPercent: number;
}

export interface SecurityConfig {
  /** secret of the keyed hash naming a person's history; absent: generated once into the data directory */
  historyKey?: string;
  /** keys sealing the stored payload, by id (64 hex characters each); absent: one generated once into the data directory */
  payloadKeys?: PayloadKeysConfig;
}

export interface PayloadKeysConfig {
  /** the id of the key new values are sealed with */
  current: string;
  keys: Record<string, string>;
}

export type Role = 'submitter' | 'monitor' | 'admin';

/** A key's reach. Absent or empty lists mean nothing of that level; a key with no scope sees all. */
export interface Scope {
  posyandu?: string[];
  puskesmas?: string[];
  regency?: string[];
}

export interface ApiKeyConfig {
  id: string;
  /** `sha256:<hex>` of the key; the key itself is never stored */
  hash: string;
  role: Role;
  /** the app this key belongs to: its records are read with that source adapter */
  source?: string;
  rateLimitPerMinute?: number;
  recordsPerMinute?: number;
  scope?: Scope;
}

export interface RetentionConfig {
  /** days after a record is synced at every upstream before its payload (the PHI) is dropped */
  payloadDays: number;
  sweepIntervalMinutes: number;
  /** days after which the payload of a record not synced everywhere (failed, waiting) is dropped */
  unsyncedPayloadDays: number;
  /**
   * whole records (states, ids, everything but the counts) are kept at least this many months, then
   * dropped with their month (PostgreSQL ledger); absent: kept for good
   */
  recordMonths?: number;
}
