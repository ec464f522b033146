import type { Test } from 'tap';
import { loadConfig } from '../../src/config/load.js';
import { validAncVisit, withChanges, type RecordLike } from '../fixtures/records.js';
import { getJson, postJson } from './gateway.js';
import { DEFAULT_CLIENT, SYS_IDS_PREFIX, type SatusehatServerHandle } from './satusehat-server.js';

// What the drain tests share: records of many different people (a person's records go one at a
// time, so a drain of one person's records would never push two at once), posting them, and
// waiting until they are synced; for SATUSEHAT also the gateway's configuration for its test
// server and the final comparison of what the server holds with what the gateway accepted.

export const ORG = DEFAULT_CLIENT.organizationId;
/** the bidan desa who answers for the kader's records at the Cibinong posyandu */
export const SUPERVISOR_NIK = '3201014404800002';
/** the bidan who recorded the ANC visits (the fixture's performer) */
export const BIDAN_NIK = validAncVisit.performer.nik;

/** The demo registry, every Cibinong posyandu with a supervising bidan (SATUSEHAT needs a Practitioner). */
export function satusehatFacilities(): unknown {
  const demo = loadConfig({}).facilities;
  const posyandu = Object.fromEntries(
    Object.entries(demo.posyandu).map(([code, p]) => [code, p.puskesmas === 'P3201010101' ? { ...p, supervisorNik: SUPERVISOR_NIK } : p]),
  );
  return { ...demo, posyandu };
}

export function satusehatUpstream(srv: SatusehatServerHandle, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'satusehat',
    kind: 'satusehat',
    authUrl: srv.authBase,
    baseUrl: srv.fhirBase,
    credentials: { [ORG]: { clientId: DEFAULT_CLIENT.clientId, clientSecret: DEFAULT_CLIENT.clientSecret } },
    timeouts: { connectMs: 1_000, headersMs: 10_000, bodyMs: 10_000 },
    ...extra,
  };
}

// NIKs follow design.md: region 320101, birth date DDMMYY (+40 on the day for women), serial.
const serial = (n: number) => String(n).padStart(4, '0');

/** A child's weighing at posyandu 3201010001-01 (a kader's record): child n has her own NIK. */
export function childRecord(n: number, recordId = `A-${n}`, changes: RecordLike = {}): RecordLike {
  return withChanges({
    recordId,
    subject: { nik: `320101550323${serial(n)}`, name: `Anak ${n}`, sex: 'female', birthDate: '2023-03-15' },
    weightKg: 9 + (n % 10) / 10,
    ...changes,
  });
}

/**
 * A K4 ANC visit at posyandu 3201010001-02 by the bidan, woman n. Every one carries the same K4
 * visit identifier next to its own Encounter identifier, as real ANC Encounters do.
 */
export function ancRecord(n: number, recordId = `K-${n}`): RecordLike {
  return withChanges(
    { recordId, subject: { nik: `320101620198${serial(n)}`, name: `Ibu ${n}`, sex: 'female', birthDate: '1998-01-22' } },
    validAncVisit as unknown as RecordLike,
  );
}

/** SATUSEHAT knows every person of these records, the supervisor and the bidan. */
export async function seedPeople(srv: SatusehatServerHandle, records: RecordLike[]): Promise<void> {
  const seen = new Set<string>();
  for (const r of records) {
    const s = r.subject as { nik: string; name: string; sex: 'male' | 'female'; birthDate: string };
    if (seen.has(s.nik)) continue;
    seen.add(s.nik);
    await srv.addPatient({ nik: s.nik, name: s.name, birthDate: s.birthDate, gender: s.sex });
  }
  await srv.addPractitioner({ nik: SUPERVISOR_NIK, name: 'Bidan Desa Cempaka', gender: 'female' });
  await srv.addPractitioner({ nik: BIDAN_NIK, name: 'Bidan Yuli', gender: 'female' });
}

export interface Sent {
  id: string;
  source: string;
  recordId: string;
}

/** Posts each record; every one must be accepted (202), or the test stops here. */
export async function postAll(gwUrl: string, source: string, records: RecordLike[]): Promise<Sent[]> {
  const sent: Sent[] = [];
  for (const r of records) {
    const res = await postJson(`${gwUrl}/v1/records?source=${source}`, r);
    if (res.status !== 202) throw new Error(`record ${String(r.recordId)} not accepted: ${res.status} ${JSON.stringify(res.body)}`);
    sent.push({ id: res.body.id, source, recordId: String(r.recordId) });
  }
  return sent;
}

export async function recordState(gwUrl: string, id: string): Promise<any> {
  return (await getJson(`${gwUrl}/v1/records/${id}`)).body;
}

/** Waits until every record is synced at the upstream; on timeout says which are not, and in what state. */
export async function untilAllSynced(gwUrl: string, sent: Sent[], timeoutMs: number, upstream = 'satusehat'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pending: string[] = [];
  for (;;) {
    pending = [];
    for (const s of sent) {
      try {
        const r = await recordState(gwUrl, s.id);
        const u = r.upstreams?.[upstream];
        if (u?.state !== 'synced') pending.push(`${s.recordId}: ${u?.state} (attempts ${u?.attempts}, ${u?.lastError?.code ?? '-'})`);
      } catch (err) {
        pending.push(`${s.recordId}: ${String(err)}`);
      }
    }
    if (pending.length === 0) return;
    if (Date.now() > deadline) throw new Error(`not synced after ${timeoutMs} ms:\n  ${pending.join('\n  ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The value of one Prometheus sample, or undefined when the series is absent. */
export function metric(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`) || l.startsWith(`${name}{${labels},`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : undefined;
}

interface Written {
  resourceType: string;
  id: string;
}

/**
 * What SATUSEHAT holds against what the gateway accepted: every record synced with the upstream
 * ids stored; each of its Encounter and Observations on the server exactly once under its business
 * identifier, with the stored id; nothing on the server that no record accounts for; and the
 * resources records share (posyandu Location, a woman's ANC EpisodeOfCare) created once.
 */
export async function checkServerMatchesAccepted(t: Test, srv: SatusehatServerHandle, gwUrl: string, sent: Sent[]): Promise<void> {
  const problems: string[] = [];
  const sysIdsCounts = async (type: string) =>
    Object.entries(await srv.countByIdentifier(type)).filter(([k]) => k.startsWith(SYS_IDS_PREFIX));
  const encounterCounts = Object.fromEntries(await sysIdsCounts('Encounter'));
  const allEncounters = await srv.resources('Encounter');
  const observations = await srv.resources('Observation');
  const observationIds = new Map(observations.map((o) => [o.id!, o]));
  let storedObservations = 0;

  for (const s of sent) {
    const r = await recordState(gwUrl, s.id);
    const u = r.upstreams?.satusehat;
    if (r.status !== 'synced' || u?.state !== 'synced') {
      problems.push(`${s.recordId}: ${r.status} / ${u?.state}`);
      continue;
    }
    const written: Written[] = u.resources ?? [];
    const encounters = written.filter((w) => w.resourceType === 'Encounter');
    const key = `${SYS_IDS_PREFIX}encounter/${ORG}|${s.source}.${s.recordId}`;
    if (encounterCounts[key] !== 1) problems.push(`${s.recordId}: ${encounterCounts[key] ?? 0} Encounters on the server`);
    const onServer = allEncounters.find((e) =>
      (e as { identifier?: Array<{ system?: string; value?: string }> }).identifier?.some((i) => `${i.system}|${i.value}` === key),
    );
    if (encounters.length !== 1 || encounters[0]?.id !== onServer?.id) {
      problems.push(`${s.recordId}: stored Encounter ${JSON.stringify(encounters.map((e) => e.id))}, server has ${onServer?.id}`);
    }
    const obs = written.filter((w) => w.resourceType === 'Observation');
    if (obs.length === 0) problems.push(`${s.recordId}: no Observation ids stored`);
    storedObservations += obs.length;
    for (const o of obs) {
      const there = observationIds.get(o.id) as { identifier?: Array<{ value?: string }> } | undefined;
      if (!there) problems.push(`${s.recordId}: stored Observation ${o.id} is not on the server`);
      else if (!there.identifier?.some((i) => i.value?.startsWith(`${s.source}.${s.recordId}.`))) problems.push(`${s.recordId}: Observation ${o.id} belongs to another record`);
    }
  }

  // None duplicated: every business identifier of these types names exactly one resource.
  for (const type of ['Encounter', 'Observation', 'EpisodeOfCare', 'Location']) {
    for (const [k, n] of await sysIdsCounts(type)) if (n !== 1) problems.push(`${type} ${k.slice(k.indexOf('|') + 1)}: ${n} copies`);
  }
  t.same(problems, [], 'every accepted record is synced with its upstream ids, once on the server');
  t.equal(allEncounters.length, sent.length, 'as many Encounters on the server as records accepted');
  t.equal(observations.length, storedObservations, 'every Observation on the server is one a record accounts for');
}
