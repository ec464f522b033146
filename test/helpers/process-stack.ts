import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import t from 'tap';
import type { Identifier, Observation, Resource } from '@medplum/fhirtypes';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { startFhirServer, type FhirServerHandle } from './fhir-server.js';
import { getJson, postJson, sandboxUpstream, spawnGateway, withLedgerDatabase, writeTestConfig, type ChildGateway } from './gateway.js';
import { startRedis, type RedisHandle } from './redis-server.js';
import { validAncVisit, validImmunization, validScreening, withChanges, type RecordLike } from '../fixtures/records.js';

// Gerbang scaled out as in production: API processes (`gerbang serve`, no worker) and worker
// processes (`gerbang worker`), real processes all sharing one PostgreSQL database (the ledger)
// and one Redis (the queues), delivering to a real FHIR engine. For the fault tests of issue 15.

export const SOURCE = 'pgf';

export interface ProcessStack {
  redis: RedisHandle;
  fhir: FhirServerHandle;
  config: Config;
  env: Record<string, string>;
  apis: ChildGateway[];
  workers: ChildGateway[];
  spawnApi(): Promise<ChildGateway>;
  spawnWorker(): Promise<ChildGateway>;
}

/** Starts the servers and the processes; everything is stopped when the test file ends. */
export async function startProcessStack(opts: { apis: number; workers: number; delivery?: Record<string, unknown> }): Promise<ProcessStack> {
  const redis = await startRedis();
  const fhir = await startFhirServer();
  const cfg = writeTestConfig(await withLedgerDatabase({ redisUrl: redis.url, upstreams: [{ name: 'sandbox', ...sandboxUpstream(fhir.baseUrl) }], delivery: { ...opts.delivery, runWorker: false } }));
  const env = { GERBANG_CONFIG: cfg.path, REDIS_URL: redis.url, HOST: '127.0.0.1', PORT: '0' };
  const apis: ChildGateway[] = [];
  const workers: ChildGateway[] = [];
  // registered before the processes start: tap runs teardowns last-registered first, and the
  // PostgreSQL server of the file (registered at withLedgerDatabase) must outlive them
  t.teardown(async () => {
    for (const p of [...apis, ...workers]) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
      await p.exited;
    }
    // STACK_LOGS=dir keeps what each process wrote, to read after a failure
    if (process.env.STACK_LOGS) [...apis, ...workers].forEach((p, i) => writeFileSync(join(process.env.STACK_LOGS ?? '', `${i < apis.length ? 'api' : 'worker'}-${i}.log`), p.output()));
    await fhir.stop();
    await redis.stop();
    cfg.cleanup();
  });
  const spawnApi = async () => {
    const a = await spawnGateway(env);
    apis.push(a);
    return a;
  };
  const spawnWorker = async () => {
    const w = await spawnGateway(env, ['worker']);
    workers.push(w);
    return w;
  };
  // started together: on a busy machine each takes seconds to load
  await Promise.all([...Array.from({ length: opts.apis }, spawnApi), ...Array.from({ length: opts.workers }, spawnWorker)]);
  return { redis, fhir, config: loadConfig(env), env, apis, workers, spawnApi, spawnWorker };
}

export function isRunning(p: ChildGateway): boolean {
  return p.child.exitCode === null && p.child.signalCode === null;
}

export async function killHard(p: ChildGateway): Promise<void> {
  p.child.kill('SIGKILL');
  await p.exited;
}

// NIKs follow design.md: region, birth date DDMMYY (+40 on the day for women), a serial of 4.
// (serial 0000 is no NIK)
const serial = (n: number) => String(n + 1).padStart(4, '0');
const KINDS = ['anthropometry', 'immunization', 'anc-visit', 'screening'] as const;

/** Record n: the kinds in turn, each of its own person (a child, a baby, a pregnant woman, an adult). */
export function recordOfKind(n: number, prefix: string): RecordLike {
  const kind = KINDS[n % KINDS.length];
  const recordId = `${prefix}-${n}`;
  switch (kind) {
    case 'anthropometry':
      return withChanges({ recordId, subject: { nik: `320101550323${serial(n)}`, name: `Anak ${n}`, sex: 'female', birthDate: '2023-03-15' }, weightKg: 9 + (n % 10) / 10 });
    case 'immunization':
      return withChanges({ recordId, subject: { nik: `320101150825${serial(n)}`, name: `Bayi ${n}`, sex: 'male', birthDate: '2025-08-15' } }, validImmunization as unknown as RecordLike);
    case 'anc-visit':
      return withChanges({ recordId, subject: { nik: `320101620198${serial(n)}`, name: `Ibu ${n}`, sex: 'female', birthDate: '1998-01-22' } }, validAncVisit as unknown as RecordLike);
    default:
      return withChanges({ recordId, subject: { nik: `527101440870${serial(n)}`, name: `Warga ${n}`, sex: 'female', birthDate: '1970-08-04' }, weightKg: 60 + (n % 10) }, validScreening as unknown as RecordLike);
  }
}

export interface Posted {
  status: number;
  body: any;
  ms: number;
}

export async function postRecord(api: ChildGateway, record: RecordLike): Promise<Posted> {
  const started = Date.now();
  const res = await postJson(`${api.url}/v1/records?source=${SOURCE}`, record);
  return { status: res.status, body: res.body, ms: Date.now() - started };
}

/** Waits until every record id reads `synced` at an API process. */
export async function untilAllSynced(api: () => ChildGateway, ids: Iterable<string>, timeoutMs: number): Promise<void> {
  const waiting = new Set(ids);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const id of [...waiting]) {
      const r = await getJson(`${api().url}/v1/records/${id}`).catch(() => undefined);
      if (r?.body?.status === 'synced') waiting.delete(id);
    }
    if (waiting.size === 0) return;
    if (Date.now() > deadline) {
      const states = await Promise.all([...waiting].slice(0, 5).map(async (id) => {
        const r = (await getJson(`${api().url}/v1/records/${id}`)).body;
        return JSON.stringify({ recordId: r?.recordId, version: r?.version, status: r?.status, upstreams: r?.upstreams && Object.fromEntries(Object.entries(r.upstreams).map(([k, u]: [string, any]) => [k, { state: u.state, version: u.version, attempts: u.attempts, lastError: u.lastError }])) });
      }));
      throw new Error(`${waiting.size} records not synced after ${timeoutMs} ms:\n${states.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 1_000)); // light: the machine is busy enough with the drain
  }
}

/**
 * Every resource the records' Bundles write (as `$map` answers them) is at the engine exactly
 * once, found by the identifier the gateway writes it under (conditional create or update); a
 * record's weight, if it has one, is its latest version's. Returns how many resources it checked.
 */
export async function checkEngine(t: Test, api: ChildGateway, fhir: FhirServerHandle, latest: Iterable<RecordLike>): Promise<number> {
  const keys = new Map<string, { type: string; identifier: string }>();
  const weights: Array<{ identifier: string; value: number }> = [];
  for (const record of latest) {
    const mapped = await postJson(`${api.url}/v1/$map?source=${SOURCE}`, record);
    const answer = mapped.body?.records?.[0] ?? mapped.body;
    if (mapped.status !== 200 || !answer?.bundle) throw new Error(`$map of ${String(record.recordId)}: ${mapped.status} ${JSON.stringify(mapped.body).slice(0, 300)}`);
    for (const e of answer.bundle.entry as Array<{ resource: Resource; request: { url: string; ifNoneExist?: string } }>) {
      const query = e.request.ifNoneExist ?? e.request.url.split('?')[1] ?? '';
      const identifier = new URLSearchParams(query).get('identifier');
      if (!identifier) throw new Error(`an entry of ${String(record.recordId)} is written under no identifier: ${e.request.url}`);
      keys.set(`${e.resource.resourceType} ${identifier}`, { type: e.resource.resourceType, identifier });
    }
    if (typeof record.weightKg === 'number') {
      const obs = answer.bundle.entry.find((e: any) => e.resource.resourceType === 'Observation' && e.request.url.includes('.weight'));
      weights.push({ identifier: new URLSearchParams(obs.request.url.split('?')[1]).get('identifier') ?? '', value: record.weightKg });
    }
  }
  // one pass over each resource type the Bundles write (a search per identifier scans the engine's memory each time)
  const held = new Map<string, Resource[]>();
  for (const type of new Set([...keys.values()].map((k) => k.type))) {
    const all = await fhir.repo.search({ resourceType: type as Resource['resourceType'], count: 100_000 });
    for (const e of all.entry ?? []) {
      const r = e.resource as Resource & { identifier?: Identifier | Identifier[] };
      // (a Composition has one identifier, not a list)
      for (const id of ([] as Identifier[]).concat(r.identifier ?? [])) {
        const key = `${type} ${id.system}|${id.value}`;
        held.set(key, [...(held.get(key) ?? []), r]);
      }
    }
  }
  const wrong: string[] = [];
  for (const [key, { type, identifier }] of keys) {
    const found = held.get(key) ?? [];
    if (found.length !== 1) wrong.push(`${found.length} × ${type} ${identifier}`);
  }
  t.same(wrong, [], `every one of ${keys.size} resources is at the engine exactly once`);
  const stale: string[] = [];
  for (const w of weights) {
    const [obs] = (held.get(`Observation ${w.identifier}`) ?? []) as Observation[];
    if (obs?.valueQuantity?.value !== w.value) {
      // when each push carrying it was sent and answered, and with what value: an earlier version's push answered after a later one's?
      const value = w.identifier.split('|')[1] ?? '';
      const pushes = fhir.requests.filter((r) => r.body.includes(value)).map((r) => `${r.at}→${r.answeredAt} ${r.status} ${/"value":([\d.]+),"unit":"kg"/.exec(r.body)?.[1] ?? '?'}`);
      stale.push(`${w.identifier}: ${String(obs?.valueQuantity?.value)} ≠ ${w.value} (pushes: ${pushes.join('; ')})`);
    }
  }
  t.same(stale, [], `the ${weights.length} weights are the latest versions'`);
  t.same(fhir.validationErrors, [], 'the engine refused no write');
  return keys.size;
}

/** The sandbox's counts in the status summary. */
export async function sandboxCounts(api: ChildGateway): Promise<Record<string, number>> {
  const s = await getJson(`${api.url}/v1/sync/summary`);
  return s.body.upstreams.find((u: any) => u.upstream === 'sandbox').totals.counts;
}
