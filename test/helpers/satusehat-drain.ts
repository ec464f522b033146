import type { Test } from 'tap';
import type { RecordLike } from '../fixtures/records.js';
import { getJson, postJson } from './gateway.js';
import { SYS_IDS_PREFIX, type SatusehatServerHandle } from './satusehat-server.js';

// What the drain tests share: records of many different people (a person's records go one at a
// time, so a drain of one person's records would never push two at once), posting them, and
// waiting until they are synced; for SATUSEHAT also the gateway's configuration for its test
// server (satusehat-records.ts, which loads no gateway helper) and the final comparison of what
// the server holds with what the gateway accepted.

import { ORG } from './satusehat-records.js';

export { ORG, SUPERVISOR_NIK, BIDAN_NIK, satusehatFacilities, satusehatUpstream, childRecord, ancRecord, seedPeople } from './satusehat-records.js';

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
