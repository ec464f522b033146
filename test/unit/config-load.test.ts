import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError, defaultMaxmemoryMb, loadConfig } from '../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'gerbang-config-'));
const facilities = {
  puskesmas: { P3201010101: { name: 'Puskesmas Cibinong', organizationId: '10000004', regency: '3201' } },
  posyandu: { '3201010001-01': { name: 'Posyandu Cempaka', puskesmas: 'P3201010101', village: '3201010001' } },
};
const satusehat = {
  name: 'satusehat',
  kind: 'satusehat',
  authUrl: 'https://api-satusehat-stg.dto.kemkes.go.id/oauth2/v1/',
  baseUrl: 'https://api-satusehat-stg.dto.kemkes.go.id/fhir-r4/v1',
  credentials: { '10000004': { clientId: '${SS_ID}', clientSecret: '${SS_SECRET}' } },
};

let n = 0;
function load(file: unknown, env: Record<string, string> = {}) {
  const path = join(dir, `gerbang-${n++}.json`);
  writeFileSync(path, typeof file === 'string' ? file : JSON.stringify(file));
  return loadConfig({ GERBANG_CONFIG: path, HOST: '127.0.0.1', ...env });
}
function problem(file: unknown, env: Record<string, string> = {}): string {
  try {
    load(file, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  return '';
}

t.test('a SATUSEHAT upstream: secrets from the environment, defaults written out, circuit per upstream', async (t) => {
  const cfg = load({ upstreams: [satusehat, { name: 'sandbox', kind: 'fhir', baseUrl: 'http://127.0.0.1:8090/fhir', pushesPerSecond: 20, circuit: { openSeconds: 5 } }], facilities }, { SS_ID: 'id-1', SS_SECRET: 's3cret' });
  const [ss, sandbox] = cfg.upstreams;
  t.equal(ss?.kind, 'satusehat');
  if (ss?.kind !== 'satusehat') return;
  t.same(ss.credentials, { '10000004': { clientId: 'id-1', clientSecret: 's3cret' } });
  t.equal(ss.authUrl, 'https://api-satusehat-stg.dto.kemkes.go.id/oauth2/v1', 'trailing slash dropped');
  t.equal(ss.pushesPerSecond, undefined, 'no rate unless configured');
  t.same(ss.circuit, { failureThreshold: 5, failureRate: 0.5, windowSize: 20, openSeconds: 30, maxOpenSeconds: 600 });
  t.same(ss.kind === 'satusehat' && { timeouts: ss.timeouts, maxAnswerBytes: ss.maxAnswerBytes }, { timeouts: { connectMs: 5_000, headersMs: 30_000, bodyMs: 30_000, totalMs: 60_000 }, maxAnswerBytes: 4 * 1024 * 1024 }, 'every call has a total deadline and an answer cap');
  t.equal(cfg.delivery.maxRetryAfterSeconds, 900, 'Retry-After is capped at 15 minutes');
  t.equal(ss.identityCacheHours, 168);
  t.equal(ss.newbornMaxAgeDays, 60);
  t.equal(sandbox?.pushesPerSecond, 20);
  t.same(sandbox?.circuit, { failureThreshold: 5, failureRate: 0.5, windowSize: 20, openSeconds: 5, maxOpenSeconds: 600 }, 'one setting overrides its default only');
  t.same(sandbox?.kind === 'fhir' && sandbox.validation, { connections: 2, totalMs: 15_000 }, '$map?validate has connections and a deadline of its own');
  t.ok(Object.isFrozen(ss.credentials), 'frozen');
  t.same(cfg.delivery.identityWait, { firstMinutes: 15, maxHours: 6, maxAgeDays: 30 }, 'the identity schedule written out');
  const tuned = load({ upstreams: [{ name: 'o', kind: 'outbox', directory: '/tmp/o' }], facilities, delivery: { identityWait: { maxAgeDays: 7 } } });
  t.same(tuned.delivery.identityWait, { firstMinutes: 15, maxHours: 6, maxAgeDays: 7 }, 'one identity setting overrides its default only');
});

t.test('every problem at once, each with its place', async (t) => {
  const msg = problem({
    upstreams: [
      { ...satusehat, credentials: { '10000099': { clientId: 'a', clientSecret: 'b' } } },
      { name: 'sandbox', kind: 'fhir', baseUrl: 'http://x/fhir', circuit: { openSeconds: 60, maxOpenSeconds: 10 } },
      { name: 'sandbox', kind: 'outbox', directory: '/tmp/o' },
    ],
    facilities,
    delivery: { identityWait: { firstMinutes: 120, maxHours: 1 } },
  });
  t.match(msg, '/delivery/identityWait/maxHours: must be at least firstMinutes (120 min)');
  t.match(msg, '/upstreams/satusehat/credentials/10000099: no puskesmas in /facilities has organizationId "10000099"');
  t.match(msg, '/upstreams/sandbox/circuit/maxOpenSeconds: must be at least openSeconds (60)');
  t.match(msg, '/upstreams: the name "sandbox" is used twice');
});

t.test('schema problems name the field', async (t) => {
  t.match(problem({ upstreams: [{ ...satusehat, pushesPerSecond: 0 }], facilities }, { SS_ID: 'a', SS_SECRET: 'b' }), '/upstreams/0/pushesPerSecond');
  t.match(problem({ upstreams: [{ ...satusehat, circuit: { failureThreshold: 0 } }], facilities }, { SS_ID: 'a', SS_SECRET: 'b' }), '/upstreams/0/circuit/failureThreshold');
  t.match(problem({ upstreams: [{ ...satusehat, circuit: { failureRate: 1.5 } }], facilities }, { SS_ID: 'a', SS_SECRET: 'b' }), '/upstreams/0/circuit/failureRate');
  t.match(problem({ upstreams: [{ ...satusehat, maxAnswerBytes: 10 }], facilities }, { SS_ID: 'a', SS_SECRET: 'b' }), '/upstreams/0/maxAnswerBytes');
  t.match(problem({ upstreams: [satusehat], facilities }), 'uses ${SS_ID}, which is not set in the environment');
  t.match(problem('{"upstreams": ['), 'not valid JSON');
  t.match(problem({ upstreams: [satusehat], facilities, delivery: { identityWait: { firstMinutes: 0 } } }, { SS_ID: 'a', SS_SECRET: 'b' }), '/delivery/identityWait/firstMinutes');
  const withLocation = (locationId: string) => ({ ...facilities, posyandu: { '3201010001-01': { ...facilities.posyandu['3201010001-01'], locationId } } });
  t.match(problem({ upstreams: [satusehat], facilities: withLocation('Location/ab c') }, { SS_ID: 'a', SS_SECRET: 'b' }), '/facilities/posyandu/3201010001-01/locationId', 'a locationId that is no FHIR id');
  t.equal(load({ upstreams: [satusehat], facilities: withLocation('b017aa54-f1df-4ec2-9d84-8823815d7228') }, { SS_ID: 'a', SS_SECRET: 'b' }).facilities.posyandu['3201010001-01']?.locationId, 'b017aa54-f1df-4ec2-9d84-8823815d7228');
});

t.test('no API keys: only loopback', async (t) => {
  const file = { upstreams: [{ name: 'outbox', kind: 'outbox', directory: '/tmp/o' }], facilities };
  t.match(problem(file, { HOST: '0.0.0.0' }), 'no API keys, so Gerbang may only listen on 127.0.0.1');
  t.equal(load(file).server.host, '127.0.0.1');
});

t.test('no API keys and no host named: listens on 127.0.0.1; with keys: on every interface', async (t) => {
  const file = { upstreams: [{ name: 'outbox', kind: 'outbox', directory: '/tmp/o' }], facilities };
  const path = join(dir, 'no-host.json');
  writeFileSync(path, JSON.stringify(file));
  t.equal(loadConfig({ GERBANG_CONFIG: path }).server.host, '127.0.0.1', 'not refused: the default host is loopback');
  writeFileSync(path, JSON.stringify({ ...file, server: { host: '127.0.0.2' } }));
  t.equal(loadConfig({ GERBANG_CONFIG: path }).server.host, '127.0.0.2', 'a named loopback host is kept');
  writeFileSync(path, JSON.stringify({ ...file, server: { host: '0.0.0.0' } }));
  t.throws(() => loadConfig({ GERBANG_CONFIG: path }), { message: /no API keys, so Gerbang may only listen on 127\.0\.0\.1 \(server\.host is "0\.0\.0\.0"\)/ }, 'a public host named in the file is refused');
  const apiKeys = [{ id: 'k', hash: `sha256:${'a'.repeat(64)}`, role: 'monitor', scope: { puskesmas: ['P3201010101'] } }];
  writeFileSync(path, JSON.stringify({ ...file, apiKeys }));
  t.equal(loadConfig({ GERBANG_CONFIG: path }).server.host, '0.0.0.0', 'with keys the default is every interface');
});

t.test('the store: maxmemory a quarter of the RAM within 64 MiB..1 GiB, high-water mark 85%, both configurable', async (t) => {
  const GiB = 1024 ** 3;
  t.equal(defaultMaxmemoryMb(16 * GiB), 1024, 'a large machine: 1 GiB');
  t.equal(defaultMaxmemoryMb(2 * GiB), 512, '2 GiB of RAM: 512 MiB');
  t.equal(defaultMaxmemoryMb(GiB / 8), 64, 'a tiny machine: at least 64 MiB');
  const cfg = load({ upstreams: [satusehat], facilities }, { SS_ID: 'a', SS_SECRET: 'b' });
  t.equal(cfg.store.highWaterPercent, 85);
  t.equal(cfg.store.maxmemoryMb, defaultMaxmemoryMb());
  t.equal(cfg.retention.unsyncedPayloadDays, 90, 'failed and waiting payloads kept 90 days by default');
  t.same(load({ upstreams: [satusehat], facilities, store: { maxmemoryMb: 256, highWaterPercent: 70 } }, { SS_ID: 'a', SS_SECRET: 'b' }).store, { maxmemoryMb: 256, highWaterPercent: 70 });
  t.match(problem({ upstreams: [satusehat], facilities, store: { highWaterPercent: 100 } }, { SS_ID: 'a', SS_SECRET: 'b' }), /highWaterPercent/);
  t.match(problem({ upstreams: [satusehat], facilities, security: { historyKey: 'short' } }, { SS_ID: 'a', SS_SECRET: 'b' }), /historyKey/);
});

t.test('the Redis prefixes: the names earlier versions wrote by default, printable ASCII when set', async (t) => {
  const env = { SS_ID: 'a', SS_SECRET: 'b' };
  t.strictSame(load({ upstreams: [satusehat], facilities }, env).redis, { keyPrefix: 'g:', queuePrefix: 'gerbang', cluster: false }, 'an existing store keeps working');
  t.strictSame(load({ upstreams: [satusehat], facilities, redis: { keyPrefix: '{dinkes-bogor}:' } }, env).redis, { keyPrefix: '{dinkes-bogor}:', queuePrefix: 'gerbang', cluster: false });
  t.match(problem({ upstreams: [satusehat], facilities, redis: { keyPrefix: 'g :' } }, env), /keyPrefix/, 'no space');
  t.match(problem({ upstreams: [satusehat], facilities, redis: { queuePrefix: '' } }, env), /queuePrefix/, 'not empty');
  t.match(problem({ upstreams: [satusehat], facilities, redis: { prefix: 'x' } }, env), /prefix/, 'no other setting');
});

t.test('Redis Cluster: hash-tagged prefixes, REDIS_URL naming its nodes, the ledger elsewhere', async (t) => {
  const env = { SS_ID: 'a', SS_SECRET: 'b', REDIS_URL: 'redis://10.0.0.1:7000,redis://10.0.0.2:7000' };
  const file = { upstreams: [satusehat], facilities, redis: { cluster: true } };
  t.equal(load(file, env).redis.keyPrefix, '{gerbang}:', 'with the ledger in PostgreSQL (the default) a cluster is accepted, its prefixes tagged');
  const refusal = problem({ ...file, ledger: { store: 'redis' } }, env);
  t.match(refusal, /ledger must be in PostgreSQL/, 'the Redis ledger is refused on a cluster');
  t.notMatch(refusal, /hash tag/, 'the cluster defaults carry hash tags');
  t.match(problem({ ...file, redis: { cluster: true, keyPrefix: 'tenant-a:' } }, env), /\/redis\/keyPrefix: "tenant-a:" has no hash tag.*"\{tenant-a\}:"/, 'a prefix without tag is refused, with the tagged form');
  t.match(problem({ ...file, redis: { cluster: true, queuePrefix: 'bull' } }, env), /\/redis\/queuePrefix: "bull" has no hash tag.*"\{bull\}"/);
  t.match(problem({ ...file, redis: { cluster: true, keyPrefix: '{}g:' } }, env), /keyPrefix.*no hash tag/, 'an empty tag is no tag');
  t.match(problem({ ...file, redis: { cluster: true, keyPrefix: '{g:' } }, env), /keyPrefix.*no hash tag/, 'a tag the key would close is no tag');
  t.match(problem(file, { SS_ID: 'a', SS_SECRET: 'b' }), /REDIS_URL must name the cluster's nodes/, 'no private cluster');
  t.match(problem(file, { ...env, REDIS_URL: 'redis://10.0.0.1:7000/2' }), /only database 0/);
  t.match(problem(file, { ...env, REDIS_URL: 'redis://:pw1@10.0.0.1:7000,redis://:pw2@10.0.0.2:7000' }), /same/, 'one set of credentials');
  t.notMatch(problem(file, { ...env, REDIS_URL: 'http://:secret@10.0.0.1:7000' }), /secret/, 'a password never appears in the message');
  t.match(problem({ upstreams: [satusehat], facilities }, env), /REDIS_URL names several servers: set redis.cluster/, 'several nodes without cluster');
});

t.test('unsynced payloads may go only after delivery has stopped trying', async (t) => {
  const env = { SS_ID: 'a', SS_SECRET: 'b' };
  t.match(problem({ upstreams: [satusehat], facilities, retention: { unsyncedPayloadDays: 20 } }, env), /unsyncedPayloadDays: must be more than the 30 days/);
  t.match(problem({ upstreams: [satusehat], facilities, retention: { unsyncedPayloadDays: 60 }, delivery: { maxAgeHours: 24 * 100 } }, env), /more than the 100 days/);
  t.equal(load({ upstreams: [satusehat], facilities, retention: { unsyncedPayloadDays: 31 } }, env).retention.unsyncedPayloadDays, 31);
});

t.test('whole records: kept for good by default, else whole months longer than an unsynced payload', async (t) => {
  const env = { SS_ID: 'a', SS_SECRET: 'b' };
  t.equal(load({ upstreams: [satusehat], facilities }, env).retention.recordMonths, undefined, 'absent: kept for good');
  t.equal(load({ upstreams: [satusehat], facilities, retention: { recordMonths: 24 } }, env).retention.recordMonths, 24);
  t.match(problem({ upstreams: [satusehat], facilities, retention: { recordMonths: 3 } }, env), /recordMonths: must be more than unsyncedPayloadDays \(90 days\)/);
  t.equal(load({ upstreams: [satusehat], facilities, retention: { recordMonths: 4 } }, env).retention.recordMonths, 4, '4 months outlive 90 days');
  t.match(problem({ upstreams: [satusehat], facilities, retention: { recordMonths: 12.5 } }, env), /recordMonths must be integer/);
  t.match(problem({ upstreams: [satusehat], facilities, retention: { recordMonths: 0 } }, env), /recordMonths/);
});

t.test('payload keys: ids and 64 hex characters each, from the environment, the current one among them', async (t) => {
  const env = { SS_ID: 'a', SS_SECRET: 'b', PK: 'ab'.repeat(32) };
  const ring = { current: '2026-12', keys: { '2026-12': '${PK}', '2026-01': 'cd'.repeat(32) } };
  t.same(load({ upstreams: [satusehat], facilities, security: { payloadKeys: ring } }, env).security.payloadKeys, { current: '2026-12', keys: { '2026-12': 'ab'.repeat(32), '2026-01': 'cd'.repeat(32) } });
  t.match(problem({ upstreams: [satusehat], facilities, security: { payloadKeys: { current: 'x', keys: { '2026-12': '${PK}' } } } }, env), /\/security\/payloadKeys\/current: "x" is not one of/);
  t.match(problem({ upstreams: [satusehat], facilities, security: { payloadKeys: { current: 'a', keys: { a: 'not-hex' } } } }, env), /\/security\/payloadKeys\/keys\/a must match pattern/);
  t.match(problem({ upstreams: [satusehat], facilities, security: { payloadKeys: { current: 'a b', keys: { 'a b': '${PK}' } } } }, env), /payloadKeys/);
  t.match(problem({ upstreams: [satusehat], facilities, security: { payloadKeys: { current: 'a', keys: {} } } }, env), /payloadKeys\/keys/);
});

t.test('the ledger store and its PostgreSQL: defaults, the file, DATABASE_URL over the file', async (t) => {
  const outbox = [{ name: 'outbox', kind: 'outbox', directory: join(dir, 'out') }];
  const plain = load({ upstreams: outbox, facilities });
  t.equal(plain.ledger.store, 'postgres', 'the ledger is in PostgreSQL unless the file says otherwise');
  t.same(plain.database, { url: undefined, maxConnections: 20, connectionTimeoutMs: 2_000, statementTimeoutMs: 15_000, idleTimeoutMs: 30_000 });
  t.equal(loadConfig({ GERBANG_DATA_DIR: dir }).database.url, undefined, 'without a file: the private server');

  const file = { upstreams: outbox, facilities, ledger: { store: 'postgres' }, database: { url: 'postgres://g:pw@db.example:5432/gerbang', maxConnections: 8 } };
  const fromFile = load(file);
  t.equal(fromFile.ledger.store, 'postgres');
  t.equal(fromFile.database.url, 'postgres://g:pw@db.example:5432/gerbang');
  t.equal(fromFile.database.maxConnections, 8);
  t.equal(fromFile.database.connectionTimeoutMs, 2_000, 'the other settings keep their defaults');
  t.equal(load(file, { DATABASE_URL: 'postgresql://other:5433/x' }).database.url, 'postgresql://other:5433/x', 'the environment wins');
  t.equal(load(file, { DATABASE_URL: '' }).database.url, 'postgres://g:pw@db.example:5432/gerbang', 'an empty DATABASE_URL is not set');

  t.match(problem({ ...file, ledger: { store: 'mongo' } }), /\/ledger\/store must be equal to one of the allowed values/);
  t.match(problem({ ...file, database: { url: 'mysql://x' } }), /\/database\/url must match pattern/);
  t.match(problem({ ...file, database: { maxConnections: 1 } }), /\/database\/maxConnections must be >= 2/);
  t.match(problem({ ...file, database: { poolSize: 3 } }), /additional properties \(poolSize\)/);
  const refused = problem(file, { DATABASE_URL: 'redis://:s3cretpw@x:6379' });
  t.match(refused, /DATABASE_URL is not a postgres:\/\/ or postgresql:\/\/ URL/);
  t.notMatch(refused, /s3cretpw/, 'the refusal does not repeat the URL and its password');
});
