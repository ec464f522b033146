import t from 'tap';
import type { Resource } from '@medplum/fhirtypes';
import type { MemoryRepository } from '@medplum/fhir-router';
import { validAncVisit, validAnthropometry, validImmunization, validScreening, withChanges, type RecordLike } from '../fixtures/records.js';
import { startFhirServer } from '../helpers/fhir-server.js';
import { sandboxUpstream, startGateway, waitFor } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis-server.js';
import { SYS_IDS_PREFIX, isTransaction, startSatusehatServer } from '../helpers/satusehat-server.js';
import { postAll, recordState, satusehatFacilities, satusehatUpstream, seedPeople, untilAllSynced, type Sent } from '../helpers/satusehat-drain.js';

// Corrections, end to end: the gateway (HTTP and worker in this process) on a real redis-server,
// delivering to the SATUSEHAT test double and to the FHIR engine as a generic `fhir` upstream. A
// record is posted, synced, posted again with changed values and one measurement fewer, and what
// the servers then hold is read back. Resources are told apart by their values and identifiers,
// not by codes (the mappings change under other hands).

const SOURCE = 'koreksi';
const redis = await startRedis({ appendonly: false });
const srv = await startSatusehatServer();
const fhir = await startFhirServer();
const gw = await startGateway({
  redisUrl: redis.url,
  upstreams: [satusehatUpstream(srv), { name: 'sandbox', ...sandboxUpstream(fhir.baseUrl) }],
  facilities: satusehatFacilities(),
  // A push may write until its lock runs out; on a busy test machine 2 s (the fault tests' lock) is
  // not always enough for the push the in-flight test holds up.
  delivery: { lockDurationMs: 10_000 },
});
t.teardown(async () => {
  await gw.close();
  await fhir.stop();
  await srv.close();
  await redis.stop();
});

/** The master data a record only refers to; everything else it wrote is its own. */
const SHARED = new Set(['Patient', 'Practitioner', 'Organization', 'Location', 'EpisodeOfCare']);

interface Written {
  fullUrl: string;
  resourceType: string;
  id: string;
  retracted?: boolean;
}

/** The record's own resources at an upstream as the ledger lists them, read back from that server by id. */
async function holding(repo: MemoryRepository, written: Written[]): Promise<Map<string, Resource & { status?: string }>> {
  const out = new Map<string, Resource & { status?: string }>();
  for (const w of written.filter((x) => !SHARED.has(x.resourceType))) {
    out.set(w.id, await repo.readResource(w.resourceType as Resource['resourceType'], w.id));
  }
  return out;
}

/** Every quantity a resource states (its value and its components' values). */
function quantities(r: Resource): number[] {
  const o = r as { valueQuantity?: { value?: number }; component?: Array<{ valueQuantity?: { value?: number } }> };
  return [o.valueQuantity?.value, ...(o.component ?? []).map((c) => c.valueQuantity?.value)].filter((v): v is number => typeof v === 'number');
}

/** The record's state at the upstream once version 2 is synced there; `watch` sees every state read on the way. */
async function untilSynced(id: string, upstream: string, watch?: (u: { version: number; state: string }) => void): Promise<{ resources: Written[] }> {
  return waitFor(async () => {
    const u = (await recordState(gw.url, id)).upstreams[upstream];
    watch?.(u);
    return u.version === 2 && u.state === 'synced' ? u : undefined;
  }, 30_000, `version 2 synced at ${upstream}`);
}

const withValue = (resources: Map<string, Resource & { status?: string }>, value: number) => [...resources.entries()].filter(([, r]) => quantities(r).includes(value));

/** sys-ids identifiers held by more than one resource of these types (a second copy). */
async function copies(types: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const type of types) {
    for (const [k, n] of Object.entries(await srv.countByIdentifier(type))) if (k.startsWith(SYS_IDS_PREFIX) && n !== 1) out.push(`${type} ${k}: ${n}`);
  }
  return out;
}
const CLINICAL = ['Encounter', 'Observation', 'Immunization', 'Procedure', 'Condition', 'MedicationDispense', 'QuestionnaireResponse', 'Composition', 'ServiceRequest'];

interface Kind {
  kind: string;
  v1: RecordLike;
  changes: RecordLike;
  /** a quantity v1 states and the value v2 gives it instead */
  changed?: [number, number];
  /** a quantity of a measurement v2 no longer has */
  removed?: number;
  /** a property of a v1 resource and the value v2 gives it */
  changedField?: [string, unknown, unknown];
}

const kinds: Kind[] = [
  {
    kind: 'anthropometry',
    v1: withChanges({ recordId: 'KOR-ANT-1' }, validAnthropometry as unknown as RecordLike),
    changes: { weightKg: 10.4, muacCm: undefined },
    changed: [9.8, 10.4],
    removed: 14.2,
  },
  {
    kind: 'anc-visit',
    v1: withChanges({ recordId: 'KOR-ANC-1' }, validAncVisit as unknown as RecordLike),
    changes: { weightKg: 62.4, fetalHeartRate: undefined },
    changed: [61.5, 62.4],
    removed: 144,
  },
  {
    kind: 'immunization',
    // A dose has no measurement to drop; its Immunization withdrawn is in satusehat-upstream.test.ts.
    v1: withChanges({ recordId: 'KOR-IMM-1' }, validImmunization as unknown as RecordLike),
    changes: { lotNumber: 'PB2507B', expirationDate: '2026-08-31' },
    changedField: ['lotNumber', 'PB2507A', 'PB2507B'],
  },
  {
    kind: 'screening',
    v1: withChanges({ recordId: 'KOR-PTM-1', posyandu: '3201010001-01' }, validScreening as unknown as RecordLike),
    changes: { weightKg: 66, uricAcidMgdl: undefined },
    changed: [68, 66],
    removed: 6.5,
  },
];

await seedPeople(srv, kinds.map((k) => k.v1));

const v1Sent: Sent[] = [];
/** records of the later tests */
const later: string[] = [];
const firstHeld = new Map<string, { satusehat: Written[]; sandbox: Written[] }>();

t.test('version 1 of every kind is synced at both upstreams', async (t) => {
  v1Sent.push(...(await postAll(gw.url, SOURCE, kinds.map((k) => k.v1))));
  await untilAllSynced(gw.url, v1Sent, 30_000);
  await untilAllSynced(gw.url, v1Sent, 30_000, 'sandbox');
  for (const s of v1Sent) {
    const u = (await recordState(gw.url, s.id)).upstreams;
    firstHeld.set(s.recordId, { satusehat: u.satusehat.resources, sandbox: u.sandbox.resources });
  }
  t.equal(firstHeld.size, kinds.length);
});

for (const k of kinds) {
  t.test(`${k.kind}: a corrected version updates the same resources at SATUSEHAT and at the FHIR server`, async (t) => {
    const sent = v1Sent.find((s) => s.recordId === k.v1.recordId)!;
    const before = firstHeld.get(sent.recordId)!;
    const old = await holding(srv.repo, before.satusehat);
    const fOld = await holding(fhir.repo, before.sandbox);
    const v2 = withChanges(k.changes, k.v1);
    const res = await postAll(gw.url, SOURCE, [v2]);
    t.equal(res[0]?.id, sent.id, 'the same record');

    // Synced is read while it happens: whenever the gateway says version 2 is synced, SATUSEHAT
    // must already hold its values.
    const seen: string[] = [];
    const state = await untilSynced(sent.id, 'satusehat', (u) => seen.push(`${u.version}:${u.state}`));
    const now = await holding(srv.repo, state.resources);
    t.ok(seen.some((s) => s !== '2:synced'), `version 2 was not synced before it was sent (${seen.slice(0, 3).join(', ')})`);

    const written: Written[] = state.resources;
    for (const id of old.keys()) t.ok(now.has(id), `${old.get(id)!.resourceType}/${id} of version 1 is still the record's, under the same id`);
    t.same(written.filter((w) => w.resourceType === 'Encounter').map((w) => w.id), before.satusehat.filter((w) => w.resourceType === 'Encounter').map((w) => w.id), 'the same Encounter');
    t.same(await copies(CLINICAL), [], 'no second copy of anything');

    if (k.changed) {
      const [from, to] = k.changed;
      const was = withValue(old, from);
      t.equal(was.length, 1, `version 1 stated ${from} once`);
      const [id] = was[0]!;
      t.ok(quantities(now.get(id)!).includes(to), `the same resource now says ${to}`);
      t.notOk(quantities(now.get(id)!).includes(from), `and no longer ${from}`);
      t.not(now.get(id)!.status, 'entered-in-error');
    }
    if (k.removed !== undefined) {
      const was = withValue(old, k.removed);
      t.equal(was.length, 1, `version 1 stated ${k.removed} once`);
      const [id] = was[0]!;
      t.equal(now.get(id)?.status, 'entered-in-error', 'the measurement version 2 dropped is entered-in-error');
      t.ok(written.find((w) => w.id === id)?.retracted, 'and the record says it was withdrawn');
    }
    if (k.changedField) {
      const [field, from, to] = k.changedField;
      const hit = [...old.entries()].filter(([, r]) => (r as unknown as Record<string, unknown>)[field] === from);
      t.equal(hit.length, 1, `version 1 had ${field} ${String(from)}`);
      t.equal((now.get(hit[0]![0]) as unknown as Record<string, unknown>)[field], to, `the same resource now has ${String(to)}`);
    }
    for (const w of written.filter((x) => !x.retracted && !SHARED.has(x.resourceType))) {
      t.not(now.get(w.id)?.status, 'entered-in-error', `${w.resourceType}/${w.id} of version 2 stands`);
    }

    // The generic FHIR upstream: conditional PUTs by identifier update in place; the dropped
    // measurement is withdrawn there too.
    const sandbox = await untilSynced(sent.id, 'sandbox');
    const fNow = await holding(fhir.repo, sandbox.resources);
    for (const id of fOld.keys()) t.ok(fNow.has(id), 'the FHIR server keeps the same ids');
    if (k.changed) t.ok(quantities(fNow.get(withValue(fOld, k.changed[0])[0]![0])!).includes(k.changed[1]), 'the FHIR server holds the new value');
    if (k.removed !== undefined) t.equal(fNow.get(withValue(fOld, k.removed)[0]![0])?.status, 'entered-in-error', 'and the dropped one is entered-in-error there');
  });
}

t.test('version 2 arriving while version 1 is in flight waits for it, then updates what it wrote', async (t) => {
  const v1 = withChanges({ recordId: 'KOR-ANT-2', weightKg: 11.1 }, validAnthropometry as unknown as RecordLike);
  const refusedBefore = srv.requests.filter((r) => isTransaction(r) && r.status === 400).length;
  srv.delayNext(1, 1_200, { on: 'transaction' });
  const [sent] = await postAll(gw.url, SOURCE, [v1]);
  later.push(sent!.id);
  await waitFor(() => srv.heldAnswers().length > 0, 10_000, 'version 1 committed at SATUSEHAT, its answer held');
  t.equal((await recordState(gw.url, sent!.id)).upstreams.satusehat.state, 'sending', 'version 1 is in flight');
  await postAll(gw.url, SOURCE, [withChanges({ weightKg: 11.6, muacCm: undefined }, v1)]);
  const state = await untilSynced(sent!.id, 'satusehat');
  const now = await holding(srv.repo, state.resources);
  t.equal(withValue(now, 11.6).length, 1, 'SATUSEHAT holds the new weight');
  t.equal(withValue(now, 11.1).length, 0, 'and not the old one');
  t.equal(withValue(now, 14.2)[0]?.[1].status, 'entered-in-error', 'the dropped MUAC is withdrawn');
  t.same(await copies(CLINICAL), [], 'no second copy');
  t.equal(srv.requests.filter((r) => isTransaction(r) && r.status === 400).length, refusedBefore, 'no transaction refused as a duplicate: version 2 knew the ids version 1 was given');
});

t.test('version 2 arriving while version 1 is still waiting to be sent (SATUSEHAT unreachable): version 1 never reaches it, version 2 is created once', async (t) => {
  await srv.down(); // nothing goes out while both versions are accepted
  const v1 = withChanges({ recordId: 'KOR-ANT-3', weightKg: 12.1 }, validAnthropometry as unknown as RecordLike);
  const [sent] = await postAll(gw.url, SOURCE, [v1]);
  later.push(sent!.id);
  await postAll(gw.url, SOURCE, [withChanges({ weightKg: 12.6 }, v1)]);
  await srv.up();
  const state = await untilSynced(sent!.id, 'satusehat');
  const now = await holding(srv.repo, state.resources);
  t.equal(withValue(now, 12.6).length, 1, 'SATUSEHAT holds the new weight');
  const everywhere = (await srv.resources('Observation')).filter((o) => quantities(o).includes(12.1));
  t.same(everywhere, [], 'version 1’s weight never reached SATUSEHAT');
  t.same(await copies(CLINICAL), [], 'no second copy');
});

t.test('everything SATUSEHAT holds is what some record says it wrote, once', async (t) => {
  const claimed = new Set<string>();
  for (const id of new Set([...v1Sent.map((s) => s.id), ...later])) {
    for (const w of (await recordState(gw.url, id)).upstreams.satusehat.resources as Written[]) claimed.add(`${w.resourceType}/${w.id}`);
  }
  const onServer: string[] = [];
  for (const type of CLINICAL) for (const r of await srv.resources(type)) onServer.push(`${type}/${r.id}`);
  t.ok(onServer.length > 0);
  t.same(onServer.filter((x) => !claimed.has(x)), [], 'no resource on the server that no record accounts for');
  t.same(await copies(CLINICAL), []);
});
