import { loadConfig } from '../../src/config/load.js';
import { validAncVisit, withChanges, type RecordLike } from '../fixtures/records.js';
import { DEFAULT_CLIENT, type SatusehatServerHandle } from './satusehat-server.js';

// The records and settings of the SATUSEHAT drains (satusehat-drain.ts, and bench/delivery.ts,
// which runs outside tap and so must not load the gateway helpers): records of many different
// people, the gateway's configuration for the SATUSEHAT test server, and the people it knows.

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

