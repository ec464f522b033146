import type { Patient } from '@medplum/fhirtypes';
import type { SatusehatApi } from './api-client.js';
import type { IdentityCache } from './identity-cache.js';
import { badAnswer, httpOutcome } from '../http-answer.js';
import { PushStopped, waitingIdentity } from './outcomes.js';
import { NIK_IBU_SYSTEM, NIK_SYSTEM, PATIENT_PROFILE } from './systems.js';

// SATUSEHAT owns Patient (the Master Patient Index): a faskes looks people up by NIK and may
// not edit them. The one thing a faskes may create is a newborn registered under the mother's NIK.

export interface PatientResolverDeps {
  api: SatusehatApi;
  cache: IdentityCache;
  now: () => number;
  /** a nik-ibu registration is only accepted for a birthDate in the last 60 days (official INC Postman collection) */
  newbornMaxAgeDays: number;
}

export interface ResolvedPatient {
  id: string;
  /** true when this push registered the newborn */
  created: boolean;
}

/** The IHS number of the Bundle's Patient, or a PushStopped (waiting-identity, or the lookup's failure). */
export async function resolvePatient(deps: PatientResolverDeps, orgId: string, patient: Patient): Promise<ResolvedPatient> {
  const nik = identifierValue(patient, NIK_SYSTEM);
  if (nik) return { id: await byNik(deps, orgId, nik), created: false };
  const motherNik = identifierValue(patient, NIK_IBU_SYSTEM);
  if (motherNik) return newborn(deps, orgId, patient, motherNik);
  throw waitingIdentity('the person has neither a NIK nor a mother’s NIK, so SATUSEHAT cannot identify them');
}

async function byNik(deps: PatientResolverDeps, orgId: string, nik: string): Promise<string> {
  const cached = await deps.cache.get('patient', [nik]);
  if (cached) return cached;
  const found = await deps.api.search<Patient>(orgId, 'Patient', { identifier: `${NIK_SYSTEM}|${nik}` });
  const id = (found.find((p) => p.active !== false) ?? found[0])?.id;
  if (!id) throw waitingIdentity('the person’s NIK is not registered in SATUSEHAT yet; the record is sent once it is');
  await deps.cache.set('patient', [nik], id);
  return id;
}

/**
 * As SATUSEHAT's "Pasien Bayi" documentation page has it: search the babies registered under the
 * mother, match birthDate and birth order, and register the baby only when none matches and it is
 * young enough for the nik-ibu route.
 */
async function newborn(deps: PatientResolverDeps, orgId: string, patient: Patient, motherNik: string): Promise<ResolvedPatient> {
  const birthDate = patient.birthDate?.slice(0, 10);
  if (!birthDate) throw waitingIdentity('a baby without NIK needs a birth date to be found under the mother’s NIK');
  const order = patient.multipleBirthInteger ?? 1;
  const parts = [motherNik, birthDate, String(order)];
  const cached = await deps.cache.get('newborn', parts);
  if (cached) return { id: cached, created: false };

  const candidates = await deps.api.search<Patient>(orgId, 'Patient', { identifier: `${NIK_IBU_SYSTEM}|${motherNik}` });
  const matches = candidates.filter((p) => p.birthDate?.slice(0, 10) === birthDate && sameBirthOrder(p, order));
  if (matches.length > 1) {
    throw waitingIdentity('more than one baby registered under the mother’s NIK has this birth date and birth order; a person has to tell them apart');
  }
  if (matches[0]?.id) {
    await deps.cache.set('newborn', parts, matches[0].id);
    return { id: matches[0].id, created: false };
  }

  const ageDays = (deps.now() - Date.parse(`${birthDate}T00:00:00Z`)) / 86_400_000;
  if (ageDays > deps.newbornMaxAgeDays) {
    throw waitingIdentity(
      `the baby is older than ${deps.newbornMaxAgeDays} days and not registered under the mother’s NIK; SATUSEHAT needs the child’s own NIK`,
    );
  }
  const id = await register(deps, orgId, newbornResource(patient, motherNik, birthDate, order));
  await deps.cache.set('newborn', parts, id);
  return { id, created: true };
}

/**
 * Gerbang counts birth order from 1 ("1 for a single birth"); SATUSEHAT's newborn example and its "Pasien Bayi" page write 0
 * for a single birth. A first-born therefore matches 0 or 1; twins keep their numbers.
 */
function sameBirthOrder(p: Patient, order: number): boolean {
  const theirs = p.multipleBirthInteger ?? (p.multipleBirthBoolean === false ? 0 : undefined);
  if (theirs === undefined) return order === 1;
  return theirs === order || (order === 1 && theirs === 0);
}

function newbornResource(patient: Patient, motherNik: string, birthDate: string, order: number): Patient {
  return {
    resourceType: 'Patient',
    meta: { profile: [PATIENT_PROFILE] },
    active: true,
    // Only the mother's NIK: SATUSEHAT knows no other system for a baby, and Gerbang's own
    // newborn key is meaningless there.
    identifier: [{ use: 'official', system: NIK_IBU_SYSTEM, value: motherNik }],
    name: patient.name?.length ? patient.name.map((n) => ({ ...n, use: n.use ?? 'official' })) : [],
    ...(patient.gender ? { gender: patient.gender } : {}),
    birthDate,
    multipleBirthInteger: order === 1 ? 0 : order,
    // Rule 10333 makes address mandatory; without one in the Bundle the country is all we know.
    address: patient.address?.length ? patient.address : [{ use: 'home', country: 'ID' }],
    ...(patient.contact?.length ? { contact: patient.contact } : {}),
  };
}

/**
 * Patient create answers HTTP 200 with a non-FHIR wrapper, also for a duplicate, whose
 * `data.resourceID` is the baby already registered (so a second create is harmless).
 */
async function register(deps: PatientResolverDeps, orgId: string, resource: Patient): Promise<string> {
  const reply = await deps.api.call(orgId, 'POST', 'Patient', resource);
  if (reply.status === 429 || reply.status === 408 || reply.status >= 500) throw new PushStopped(httpOutcome(reply.status, reply.headers), reply.body);
  const id = reply.status >= 200 && reply.status < 300 ? createdPatientId(reply.body) : undefined;
  if (id) return id;
  // A 2xx that is not JSON (a proxy's page) says nothing about the baby: tried again, not left waiting.
  if (reply.status >= 200 && reply.status < 300 && (!reply.body || typeof reply.body !== 'object')) {
    throw new PushStopped(badAnswer('the upstream answered the newborn registration with a 2xx that is not JSON'), reply.body);
  }
  throw new PushStopped(
    { kind: 'waiting-identity', reason: 'SATUSEHAT did not register the baby under the mother’s NIK; see the upstream’s answer' },
    reply.body,
  );
}

/** The id in any of the create answers SATUSEHAT's examples show (key spelling varies between samples). */
function createdPatientId(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const b = body as Record<string, unknown>;
  if (b.resourceType === 'Patient' && typeof b.id === 'string') return b.id;
  const fromData = (data: unknown): string | undefined => {
    if (!data || typeof data !== 'object') return undefined;
    for (const [k, v] of Object.entries(data as Record<string, unknown>)) {
      if (typeof v === 'string' && v && /^(patient_?id|patient id:?|resourceid|id)$/i.test(k.trim())) return v;
    }
    return undefined;
  };
  return fromData(b.data) ?? fromData((b.create_patient as { data?: unknown } | undefined)?.data);
}

function identifierValue(patient: Patient, system: string): string | undefined {
  return patient.identifier?.find((i) => i.system === system && i.value)?.value;
}
