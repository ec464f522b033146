import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { mappingsDir } from './paths.js';
import { CLUSTER_KEY_PREFIX, CLUSTER_QUEUE_PREFIX, clusterProblems } from './redis-cluster.js';
import { configSchema, type ConfigFile } from './schema.js';
import type { CircuitConfig, Config, DatabaseConfig, DeliveryConfig, LedgerConfig, RedisConfig, RetentionConfig, Timeouts, UpstreamConfig } from './types.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

// totalMs bounds one request whatever its pace: the phase timeouts only bound the silence between
// bytes, so a server answering a byte every 20 s would otherwise hold a delivery slot for as long
// as it likes. A minute is two full phases, and far more than any healthy answer takes.
const defaultTimeouts: Timeouts = { connectMs: 5_000, headersMs: 30_000, bodyMs: 30_000, totalMs: 60_000 };

// A transaction-response for the largest Bundle Gerbang makes, with every resource returned, is a
// few hundred KiB; 4 MiB leaves room and stops an endless answer from being read to its end.
export const defaultMaxAnswerBytes = 4 * 1024 * 1024;

// $map?validate is a person's dry run: two connections and 15 s of their own, beside the delivery pool.
const defaultValidation = { connections: 2, totalMs: 15_000 };

// Delivery defaults. Kader sync in bursts after days offline and upstreams have maintenance windows
// and long holidays, so a record keeps retrying for up to a week (maxAgeHours) before a person is
// asked to look. Backoff doubles from 2 s and is capped at 20 min; with full jitter that is about one
// try per record every 10 min during a long outage (light on a recovering server), and a record goes
// through within ~20 min of the upstream coming back. 1000 attempts at that pace also last ~7 days,
// so the age cap and the attempt cap agree. lockDurationMs is BullMQ's default: a crashed worker's
// job is picked up again within about twice that.
const defaultDelivery: DeliveryConfig = {
  concurrency: 8,
  maxAttempts: 1000,
  maxAgeHours: 168,
  baseDelayMs: 2_000,
  maxDelayMs: 20 * 60_000,
  lockDurationMs: 30_000,
  maxRetryAfterSeconds: 900,
  identityWait: { firstMinutes: 15, maxHours: 6, maxAgeDays: 30 },
  runWorker: true,
};
// identityWait: registering a NIK in SATUSEHAT (Dukcapil sync) or a nakes (SISDMK) takes hours to
// days, so asking every few seconds would only spend the upstream's quota. The first look again is
// after 15 min, then waits double up to every 6 h (jittered). These waits do not use up
// maxAttempts. A person registered late is still worth sending for a month; after that the record
// is failed and a person decides (replay, or fix the NIK).

// Payloads hold names and NIKs. Once every upstream has a record, Gerbang needs only its states
// and ids; 30 days leaves a month for a person to compare what the app sent with what arrived.
// A record that never got through (failed, waiting for an identity) holds names and NIKs too. The
// delivery retries for a week (maxAgeHours) and an identity is waited for a month; 90 days leaves a
// person two months more to replay or fix it, after which its payload goes like a synced one's.
// What 0.3.x and 0.4.x wrote before the prefixes were configuration: existing stores keep working.
export const DEFAULT_KEY_PREFIX = 'g:';
const defaultKeyPrefix = DEFAULT_KEY_PREFIX;
const defaultQueuePrefix = 'gerbang';

const defaultRetention: RetentionConfig = { payloadDays: 30, sweepIntervalMinutes: 60, unsyncedPayloadDays: 90 };

// The private Redis gets a memory cap, so that a flood fills a bounded store instead of the
// machine: a quarter of the RAM, at most 1 GiB (with the ledger in PostgreSQL, a queued record costs
// Redis about 1.3 KiB, its job: some 700,000 records) and at least 64 MiB. Ingest stops at 85% of it, so the other 15%
// stay for what delivery writes (jobs, states) while it drains the backlog.
export function defaultMaxmemoryMb(totalBytes = totalmem()): number {
  return Math.max(64, Math.min(1024, Math.floor(totalBytes / 4 / 1024 / 1024)));
}
const defaultHighWaterPercent = 85;

// A posyandu app sends a burst of a few hundred records after days offline, one request each or a
// few $batch requests; 600 a minute per key lets that through and stops a runaway loop.
const defaultRateLimitPerMinute = 600;

// Records, per key: the request limit alone lets 600 $batch requests of 10,000 records a minute
// through. A posyandu's backlog after weeks offline is a few thousand records; 10,000 a minute (one
// full $batch, ~170 a second) takes it in one go, and bounds what one key can make the gateway
// store and send to a few times what the delivery pool drains.
const defaultRecordsPerMinute = 10_000;

// Failed authentication, per client address: an app with a wrong or revoked key retries a few
// times a minute at most, a person pasting a key a few times; 20 a minute lets those through and
// turns key guessing (or a flood of 401s to fill the logs) into 20 tries a minute per address.
// Valid keys from the same address are not held back: a puskesmas's devices share one address.
const defaultAuthFailuresPerMinute = 20;

// A dead upstream shows itself within a few pushes: 5 transient failures in a row (with 8 workers,
// one round of pushes) open the circuit. The first pause is 30 s, short enough that a blip costs
// little; each failed probe doubles it up to 10 min, so a long outage costs one probe per 10 min
// instead of a retry storm, and a recovered upstream gets traffic within 10 min.
// A platform that fails one request in ten is slow, not down: the circuit opens on the share of
// failed pushes among the last 20 (half of them, and at least 5), not on a run of bad luck.
const defaultCircuit: CircuitConfig = { failureThreshold: 5, failureRate: 0.5, windowSize: 20, openSeconds: 30, maxOpenSeconds: 600 };

// SATUSEHAT: an IHS number or a nakes id does not change; a week keeps lookups rare and still
// notices a merged or deactivated record. The official Postman collection registers a newborn under
// the mother's NIK (nik-ibu) only in its first 60 days.
const defaultIdentityCacheHours = 7 * 24;
const defaultNewbornMaxAgeDays = 60;

// Body limits. One record is a few KiB; an adapter's native row with its provenance a little more,
// so 256 KiB per record (a single POST, or one element or line of a $batch) leaves room and stops a
// body that is not a record. A $batch after weeks offline is a few thousand records, ~2 KiB each:
// 64 MiB holds the 10,000 that batchMaxRecords allows with room, and bounds what one request can
// make the gateway read. A record nests 4 levels; adapters' native JSON a few more; 32 stops a body
// built to exhaust the stack of the code behind the parser.
const defaultBodyLimits = { bodyLimitBytes: 256 * 1024, batchRecordMaxBytes: 256 * 1024, batchMaxBytes: 64 * 1024 * 1024, jsonMaxDepth: 32 };

// Connection limits. Posyandu apps send over slow mobile links, so one record's request gets 30 s
// to arrive in full and its headers 10 s (a client that sends nothing is dropped then, not held
// forever); a $batch of 64 MiB over a 2 Mbit/s link takes ~4 min, hence 5 min per request. An idle
// keep-alive connection is closed after 5 s (longer than a client's pause between records, shorter
// than the time a crowd of idle sockets needs to use up file descriptors); a socket serves at most
// 1,000 requests, and the server at most 2,000 connections at once, well below the usual 65,536
// file descriptors a service gets, so Redis and the upstreams always find one.
const defaultConnectionLimits = {
  connectionTimeoutMs: 30_000,
  requestTimeoutMs: 300_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  maxRequestsPerSocket: 1_000,
  maxConnections: 2_000,
};

// The ledger's store: PostgreSQL. 'redis' keeps a 0.4 ledger running until it is
// imported (gerbang ledger import).
const defaultLedger: LedgerConfig = { store: 'postgres' };

// The PostgreSQL pool. 20 connections: a request holds one for the few milliseconds of its
// transaction, the workers (8 by default) one each while they begin or settle a push, and the
// dispatcher and retention one each; several processes on one server of 100 connections still fit.
// A call waits 2 s for a connection: PostgreSQL away, ingest answers 503 within the 3 s an app's
// request allows, as it does when Redis is away. A statement runs at most 15 s, more than any of the
// ledger's should take (retention works in batches), so a statement stuck behind a lock frees its
// connection instead of holding it. Idle connections go after 30 s.
const defaultDatabase: Omit<DatabaseConfig, 'url'> = { maxConnections: 20, connectionTimeoutMs: 2_000, statementTimeoutMs: 15_000, idleTimeoutMs: 30_000 };

type Env = Record<string, string | undefined>;

/**
 * Reads and validates the configuration once, at start-up. Every problem is reported at once,
 * and the result is frozen: nothing reads process.env after this.
 */
export function loadConfig(env: Env = process.env): Config {
  const path = env.GERBANG_CONFIG;
  const file = path ? readConfigFile(path, env) : demoConfig(resolve(env.GERBANG_DATA_DIR ?? '.gerbang'));
  validate(file, path ?? 'built-in defaults');
  const dataDir = resolve(env.GERBANG_DATA_DIR ?? file.dataDir ?? '.gerbang');
  const config: Config = {
    origin: path ? 'file' : 'defaults',
    server: {
      // Without API keys anyone who reaches the port could post records, so the gateway then
      // listens only locally unless a host is named (and a named non-loopback host is refused below).
      host: path ? (env.HOST ?? file.server?.host ?? ((file.apiKeys ?? []).length > 0 ? '0.0.0.0' : '127.0.0.1')) : '127.0.0.1',
      port: parsePort(env.PORT) ?? file.server?.port ?? 8080,
      ...defaultBodyLimits,
      ...defaultConnectionLimits,
      batchMaxRecords: 10_000,
      rateLimitPerMinute: defaultRateLimitPerMinute,
      recordsPerMinute: defaultRecordsPerMinute,
      authFailuresPerMinute: defaultAuthFailuresPerMinute,
      ...withoutPlace(file.server ?? {}),
    },
    redisUrl: env.REDIS_URL || undefined,
    dataDir,
    logLevel: env.LOG_LEVEL ?? 'info',
    upstreams: file.upstreams.map((u) => normaliseUpstream(u as RawUpstream, dataDir)),
    facilities: file.facilities as Config['facilities'],
    apiKeys: (file.apiKeys ?? []) as Config['apiKeys'],
    delivery: {
      ...defaultDelivery,
      ...(file.delivery ?? {}),
      identityWait: { ...defaultDelivery.identityWait, ...(file.delivery?.identityWait ?? {}) },
    },
    retention: { ...defaultRetention, ...(file.retention ?? {}) },
    adapters: { watch: file.adapters?.watch ?? false, ...(file.adapters?.directory ? { directory: resolve(file.adapters.directory) } : {}) },
    store: { maxmemoryMb: defaultMaxmemoryMb(), highWaterPercent: defaultHighWaterPercent, ...(file.store ?? {}) },
    redis: redisConfig(file.redis),
    ledger: { ...defaultLedger, ...(file.ledger ?? {}) },
    database: { ...defaultDatabase, ...withoutUrl(file.database ?? {}), url: databaseUrl(env, file) },
    security: { ...(file.security ?? {}) },
  };
  checkCrossReferences(config, path ?? 'built-in defaults');
  return deepFreeze(config);
}

/**
 * The prefixes earlier versions wrote by default, so an existing store keeps working; on a cluster
 * (where no such store can be) hash-tagged ones. A prefix the file names is taken as written: one
 * without a hash tag on a cluster is refused (checkCrossReferences), not rewritten, since the
 * operator chose where the keys live.
 */
function redisConfig(redis: ConfigFile['redis']): RedisConfig {
  const cluster = redis?.cluster ?? false;
  return {
    keyPrefix: redis?.keyPrefix ?? (cluster ? CLUSTER_KEY_PREFIX : defaultKeyPrefix),
    queuePrefix: redis?.queuePrefix ?? (cluster ? CLUSTER_QUEUE_PREFIX : defaultQueuePrefix),
    cluster,
  };
}

/** The server settings a file gives, but host and port: those also come from the environment. */
function withoutPlace(server: NonNullable<ConfigFile['server']>): Omit<NonNullable<ConfigFile['server']>, 'host' | 'port'> {
  const { host: _host, port: _port, ...rest } = server;
  return rest;
}

function withoutUrl(database: NonNullable<ConfigFile['database']>): Omit<NonNullable<ConfigFile['database']>, 'url'> {
  const { url: _url, ...rest } = database;
  return rest;
}

/** DATABASE_URL wins over the file's database.url, as REDIS_URL is the only way to name a Redis. */
function databaseUrl(env: Env, file: ConfigFile): string | undefined {
  const fromEnv = env.DATABASE_URL || undefined;
  if (fromEnv === undefined) return file.database?.url;
  // the URL holds the password: the message does not repeat it
  if (!/^postgres(ql)?:\/\//.test(fromEnv)) throw new ConfigError('DATABASE_URL is not a postgres:// or postgresql:// URL');
  return fromEnv;
}

function readConfigFile(path: string, env: Env): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`GERBANG_CONFIG=${path}: cannot read the file (${(err as NodeJS.ErrnoException).code})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  return substituteEnv(parsed, env, path, '') as ConfigFile;
}

/** `${NAME}` inside any string is replaced by the environment variable, so secrets stay out of the file. */
function substituteEnv(value: unknown, env: Env, file: string, at: string): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Z0-9_]+)\}/g, (_, name: string) => {
      const v = env[name];
      if (v === undefined) throw new ConfigError(`${file}: ${at || '/'} uses \${${name}}, which is not set in the environment`);
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, file, `${at}/${i}`));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteEnv(v, env, file, `${at}/${k}`)]));
  }
  return value;
}

const ajv = new Ajv({ allErrors: true, strict: false });
const validateFile = ajv.compile(configSchema);

function validate(file: unknown, origin: string): asserts file is ConfigFile {
  if (validateFile(file)) return;
  const problems = (validateFile.errors ?? [])
    // oneOf reports every branch; the branch errors below it say what is actually wrong.
    .filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'const' && e.keyword !== 'if')
    .map((e) => `  ${e.instancePath || '/'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
  throw new ConfigError(`${origin}: configuration is not valid:\n${[...new Set(problems)].join('\n')}`);
}

type RawUpstream = NonNullable<ConfigFile['upstreams']>[number] & Record<string, unknown>;

function normaliseUpstream(u: RawUpstream, dataDir: string): UpstreamConfig {
  const timeouts = { ...defaultTimeouts, ...((u.timeouts as Partial<Timeouts> | undefined) ?? {}) };
  const maxAnswerBytes = (u.maxAnswerBytes as number | undefined) ?? defaultMaxAnswerBytes;
  const common = {
    name: u.name,
    pushesPerSecond: u.pushesPerSecond as number | undefined,
    circuit: { ...defaultCircuit, ...((u.circuit as Partial<CircuitConfig> | undefined) ?? {}) },
  };
  switch (u.kind) {
    case 'fhir':
      return {
        ...common,
        kind: 'fhir',
        baseUrl: String(u.baseUrl).replace(/\/+$/, ''),
        headers: (u.headers as Record<string, string> | undefined) ?? {},
        maxConnections: (u.maxConnections as number | undefined) ?? 16,
        maxEntriesPerTransaction: u.maxEntriesPerTransaction as number | undefined,
        timeouts,
        maxAnswerBytes,
        validation: { ...defaultValidation, ...((u.validation as Partial<typeof defaultValidation> | undefined) ?? {}) },
      };
    case 'outbox': {
      const dir = String(u.directory);
      return { ...common, kind: 'outbox', directory: isAbsolute(dir) ? dir : resolve(dir) };
    }
    case 'satusehat':
      return {
        ...common,
        kind: 'satusehat',
        authUrl: String(u.authUrl).replace(/\/+$/, ''),
        baseUrl: String(u.baseUrl).replace(/\/+$/, ''),
        credentials: u.credentials as Record<string, { clientId: string; clientSecret: string }>,
        timeouts,
        maxAnswerBytes,
        maxConnections: (u.maxConnections as number | undefined) ?? 8,
        identityCacheHours: (u.identityCacheHours as number | undefined) ?? defaultIdentityCacheHours,
        newbornMaxAgeDays: (u.newbornMaxAgeDays as number | undefined) ?? defaultNewbornMaxAgeDays,
      };
    default:
      throw new ConfigError(`upstream ${(u as { name: string }).name}: unknown kind (${dataDir})`);
  }
}

function checkCrossReferences(config: Config, origin: string): void {
  const problems: string[] = [];
  const names = new Set<string>();
  const wait = config.delivery.identityWait;
  if (wait.maxHours * 60 < wait.firstMinutes) {
    problems.push(`  /delivery/identityWait/maxHours: must be at least firstMinutes (${wait.firstMinutes} min)`);
  }
  // An unsynced payload may go only once delivery has stopped trying: by then every record is
  // synced or failed, none still retrying or waiting for its person.
  const tryingDays = Math.max(config.delivery.maxAgeHours / 24, wait.maxAgeDays);
  if (config.retention.unsyncedPayloadDays <= tryingDays) {
    problems.push(`  /retention/unsyncedPayloadDays: must be more than the ${tryingDays} days delivery keeps trying (delivery.maxAgeHours, delivery.identityWait.maxAgeDays)`);
  }
  // A whole record goes only after its payload could go (a failed record is replayable until
  // then); a month is at least 28 days.
  const { recordMonths } = config.retention;
  if (recordMonths !== undefined && recordMonths * 28 <= config.retention.unsyncedPayloadDays) {
    problems.push(`  /retention/recordMonths: must be more than unsyncedPayloadDays (${config.retention.unsyncedPayloadDays} days), at 28 days a month`);
  }
  for (const u of config.upstreams) {
    if (names.has(u.name)) problems.push(`  /upstreams: the name "${u.name}" is used twice`);
    names.add(u.name);
    if (u.circuit.maxOpenSeconds < u.circuit.openSeconds) {
      problems.push(`  /upstreams/${u.name}/circuit/maxOpenSeconds: must be at least openSeconds (${u.circuit.openSeconds})`);
    }
    if (u.kind === 'satusehat') {
      // SATUSEHAT binds a client id to one Organization: a credential for an Organization no
      // puskesmas here has is a typo, and would leave that puskesmas' records unsent.
      const orgs = new Set(Object.values(config.facilities.puskesmas).map((p) => p.organizationId));
      for (const org of Object.keys(u.credentials)) {
        if (!orgs.has(org)) problems.push(`  /upstreams/${u.name}/credentials/${org}: no puskesmas in /facilities has organizationId "${org}"`);
      }
    }
  }
  for (const [code, p] of Object.entries(config.facilities.posyandu)) {
    if (!config.facilities.puskesmas[p.puskesmas]) {
      problems.push(`  /facilities/posyandu/${code}/puskesmas: "${p.puskesmas}" is not in /facilities/puskesmas`);
    }
  }
  if (config.redis.cluster) {
    problems.push(...clusterProblems({ redisUrl: config.redisUrl, keyPrefix: config.redis.keyPrefix, queuePrefix: config.redis.queuePrefix, ledgerStore: config.ledger.store }));
  } else if (config.redisUrl?.includes(',')) {
    problems.push('  REDIS_URL names several servers: set redis.cluster to true for a Redis Cluster, or name one server');
  }
  const ring = config.security.payloadKeys;
  if (ring && !(ring.current in ring.keys)) problems.push(`  /security/payloadKeys/current: "${ring.current}" is not one of /security/payloadKeys/keys`);
  const keyIds = new Set<string>();
  const keyHashes = new Set<string>();
  const regencies = new Set(Object.values(config.facilities.puskesmas).map((p) => p.regency));
  const known: Record<string, (code: string) => boolean> = {
    posyandu: (c) => c in config.facilities.posyandu,
    puskesmas: (c) => c in config.facilities.puskesmas,
    regency: (c) => regencies.has(c),
  };
  config.apiKeys.forEach((k, i) => {
    if (keyIds.has(k.id)) problems.push(`  /apiKeys/${i}/id: "${k.id}" is used twice`);
    if (keyHashes.has(k.hash)) problems.push(`  /apiKeys/${i}/hash: the same key is configured twice`);
    keyIds.add(k.id);
    keyHashes.add(k.hash);
    for (const [level, codes] of Object.entries(k.scope ?? {})) {
      for (const code of codes) if (!known[level]?.(code)) problems.push(`  /apiKeys/${i}/scope/${level}: "${code}" is not in /facilities`);
    }
  });
  const server = config.server;
  if (server.batchRecordMaxBytes > server.batchMaxBytes) problems.push(`  /server/batchRecordMaxBytes: ${server.batchRecordMaxBytes} is more than /server/batchMaxBytes (${server.batchMaxBytes})`);
  // Node refuses a headers timeout longer than the request timeout
  if (server.headersTimeoutMs > server.requestTimeoutMs) problems.push(`  /server/headersTimeoutMs: ${server.headersTimeoutMs} is more than /server/requestTimeoutMs (${server.requestTimeoutMs})`);
  // Without keys anyone who can reach the port could read names and NIKs.
  if (config.apiKeys.length === 0 && !isLoopback(config.server.host)) {
    problems.push(`  /apiKeys: no API keys, so Gerbang may only listen on 127.0.0.1 (server.host is "${config.server.host}"); create one with \`gerbang key create\``);
  }
  if (problems.length > 0) throw new ConfigError(`${origin}: configuration is not valid:\n${problems.join('\n')}`);
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

function demoConfig(dataDir: string): ConfigFile {
  const facilities = JSON.parse(readFileSync(join(mappingsDir, 'demo-facilities.json'), 'utf8')) as {
    facilities: ConfigFile['facilities'];
  };
  return {
    upstreams: [{ name: 'outbox', kind: 'outbox', directory: join(dataDir, 'outbox') }],
    facilities: facilities.facilities,
  } as ConfigFile;
}

function parsePort(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`PORT=${value} is not a port number`);
  return port;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
