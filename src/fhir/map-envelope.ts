import type { Address, Condition, Encounter, EpisodeOfCare, Identifier, Location, Organization, Patient, Practitioner, Reference } from '@medplum/fhirtypes';
import type { Posyandu, Puskesmas } from '../config/types.js';
import type { SubjectHistory } from '../indicators/subject-history.js';
import type { CanonicalRecord } from '../records/schemas/index.js';
import type { TransactionBuilder } from './bundle-builder.js';
import { localDate } from '../records/time.js';
import { completedMonths } from '../indicators/calendar-age.js';
import { diagnosisTable, fhirCommon, identifierSystem } from './terminology.js';
import { recordTime, visitPeriod, type Clock, type VisitPeriod } from './visit-time.js';

export { fhirDateTime } from './visit-time.js';

/**
 * What every record kind's mapping needs: who, where, when, and the keys of its identifiers. It
 * is also the Clock that `fhirDateTime(value, ctx)` needs to turn a record's date into a dateTime.
 */
export interface RecordContext extends Clock {
  record: CanonicalRecord;
  /** `${source}.${recordId}`: unique per app, stable across versions of the record */
  key: string;
  posyanduCode: string;
  posyandu: Posyandu;
  puskesmas: Puskesmas;
  /** what Gerbang remembers of this person (weighings for N/T, doses for immunisation status) */
  history?: SubjectHistory;
}

export interface EnvelopeRefs {
  patient: Reference<Patient>;
  encounter: Reference<Encounter>;
  organization: Reference<Organization>;
  location: Reference<Location>;
  /** when the record's results were taken (a full date-time, inside `visit`) */
  effective: string;
  /** the visit's period; its end is when the visit's diagnosis was recorded */
  visit: VisitPeriod;
  performer: Reference<Practitioner>[] | undefined;
  /**
   * The health worker who answers for the record, named by NIK (a logical reference): the
   * performer when a nakes with a NIK recorded it, else the posyandu's supervisor (`supervisorNik`).
   */
  practitioner: Reference<Practitioner> | undefined;
}

/** What a record kind adds to its visit, written before the Encounter that refers to it. */
export type EncounterContext = (
  ctx: RecordContext,
  refs: { patient: Reference<Patient>; organization: Reference<Organization> },
  b: TransactionBuilder,
) => { identifiers?: Identifier[]; episodeOfCare?: Reference<EpisodeOfCare> };

/** Writes the Organization, Location, Patient, Encounter and the visit's diagnosis every record hangs on. */
export function mapEnvelope(ctx: RecordContext, b: TransactionBuilder, encounterContext?: EncounterContext): EnvelopeRefs {
  const orgId = ctx.puskesmas.organizationId;
  const organization = b.createIfMissing('organization', organizationResource(ctx), {
    system: identifierSystem('organization', orgId),
    value: orgId,
  });
  const location = b.createIfMissing('location', locationResource(ctx, organization), {
    system: identifierSystem('location', orgId),
    value: ctx.posyanduCode,
  });
  const { resource: patientResource, match } = patientOf(ctx.record, ctx.posyandu);
  const patient = b.createIfMissing('patient', patientResource, match);
  const effective = recordTime(ctx.record, ctx);
  const visit = visitPeriod(ctx.record, ctx);
  const extra = encounterContext?.(ctx, { patient, organization }, b) ?? {};
  const practitioner = practitionerOf(ctx);
  // The Encounter names its diagnosis and the Condition its Encounter: both fullUrls are known
  // before either is written (the official ANC Postman collection's Bundle does the same).
  const encounter = b.referenceTo<Encounter>('encounter');
  const choice = diagnosisOf(ctx.record);
  const diagnosis = { ...b.referenceTo<Condition>('diagnosis'), display: choice.display };
  const resource = encounterResource(ctx, { patient, location, organization, visit, practitioner, diagnosis });
  resource.identifier?.push(...(extra.identifiers ?? []));
  if (extra.episodeOfCare) resource.episodeOfCare = [extra.episodeOfCare];
  b.upsert('encounter', resource);
  b.upsert('diagnosis', diagnosisResource(ctx, choice, { patient, encounter, recorded: visit.end, practitioner }));
  return { patient, encounter, organization, location, effective, visit, practitioner, performer: performerOf(practitioner) };
}

function organizationResource(ctx: RecordContext): Organization {
  const orgId = ctx.puskesmas.organizationId;
  return {
    resourceType: 'Organization',
    identifier: [{ system: identifierSystem('organization', orgId), value: orgId }],
    active: true,
    name: ctx.puskesmas.name,
  };
}

/**
 * The posyandu as a room-level Location of its puskesmas, as the official Imunisasi Postman collection
 * hangs the immunisation post off the puskesmas Organization. The PKPR collection puts a
 * sub-Organization (type team) between them;
 * Gerbang does not: that Organization would be one more faskes-master entry per posyandu for the
 * puskesmas to own, and no rule or count depends on it: the Encounter needs a Location (rule
 * 10120) and the puskesmas as serviceProvider (10124), both of which it has.
 */
function locationResource(ctx: RecordContext, organization: Reference<Organization>): Location {
  const address = ctx.posyandu.village ? villageAddress(ctx.posyandu.village, 'work') : undefined;
  return {
    resourceType: 'Location',
    identifier: [{ system: identifierSystem('location', ctx.puskesmas.organizationId), value: ctx.posyanduCode }],
    status: 'active',
    name: ctx.posyandu.name,
    mode: 'instance',
    ...(address ? { address } : {}),
    physicalType: { coding: [fhirCommon().location.physicalType] },
    managingOrganization: organization,
  };
}

function patientOf(record: CanonicalRecord, posyandu: Posyandu): { resource: Patient; match: { system: string; value: string } } {
  const { subject } = record;
  const ids = fhirCommon().identifierSystems;
  const base: Patient = {
    resourceType: 'Patient',
    active: true,
    name: [{ use: 'official', text: subject.name }],
    gender: subject.sex,
    birthDate: subject.birthDate,
    ...(subject.birthOrder !== undefined ? { multipleBirthInteger: subject.birthOrder } : {}),
  };
  if (subject.nik !== undefined) {
    const match = { system: ids.nik, value: subject.nik };
    return { resource: { ...base, identifier: [match] }, match };
  }
  // A baby without NIK (checks.ts guarantees the mother's NIK is there).
  const motherNik = subject.mother?.nik ?? '';
  const match = { system: ids.newbornKey, value: `${motherNik}.${subject.birthDate}.${subject.birthOrder ?? 1}` };
  const address = posyandu.village ? villageAddress(posyandu.village, 'home') : undefined;
  return {
    resource: { ...base, identifier: [{ system: ids.nikIbu, value: motherNik }, match], ...(address ? { address: [address] } : {}) },
    match,
  };
}

function encounterResource(
  ctx: RecordContext,
  refs: {
    patient: Reference<Patient>;
    location: Reference<Location>;
    organization: Reference<Organization>;
    visit: VisitPeriod;
    practitioner: Reference<Practitioner> | undefined;
    diagnosis: Reference<Condition>;
  },
): Encounter {
  const { start, end } = refs.visit;
  const period = { start, end };
  const enc = fhirCommon().encounter;
  return {
    resourceType: 'Encounter',
    identifier: [{ system: identifierSystem('encounter', ctx.puskesmas.organizationId), value: ctx.key }],
    status: enc.status,
    // SATUSEHAT requires the history (rule 10122) with real times (10121, 10173); a posyandu
    // visit is recorded after the fact, as the finished visit of the official PKPR Postman collection is.
    statusHistory: [
      { status: 'arrived', period: { start, end: start } },
      { status: 'in-progress', period },
      { status: 'finished', period: { start: end, end } },
    ],
    class: enc.class,
    subject: refs.patient,
    // SATUSEHAT 10119: the attending health worker is mandatory.
    ...(refs.practitioner ? { participant: [{ type: [{ coding: [enc.participantType] }], individual: refs.practitioner }] } : {}),
    period,
    diagnosis: [{ condition: refs.diagnosis, use: { coding: [enc.diagnosisUse] }, rank: 1 }],
    hospitalization: { dischargeDisposition: { coding: [enc.dischargeDisposition] } },
    location: [{ location: { ...refs.location, display: ctx.posyandu.name }, period }],
    serviceProvider: refs.organization,
  };
}

/** The visit's diagnosis: what a routine visit of this kind is, by mappings/diagnoses.json. */
function diagnosisResource(
  ctx: RecordContext,
  choice: { code: string; display: string },
  refs: { patient: Reference<Patient>; encounter: Reference<Encounter>; recorded: string; practitioner: Reference<Practitioner> | undefined },
): Condition {
  return {
    resourceType: 'Condition',
    identifier: [{ system: identifierSystem('condition', ctx.puskesmas.organizationId), value: `${ctx.key}.diagnosis` }],
    clinicalStatus: { coding: [fhirCommon().condition.clinicalStatus] },
    category: [{ coding: [fhirCommon().condition.category] }],
    code: { coding: [{ system: diagnosisTable().system, code: choice.code, display: choice.display }] },
    subject: refs.patient,
    encounter: refs.encounter,
    recordedDate: refs.recorded,
    ...(refs.practitioner ? { recorder: refs.practitioner } : {}),
  };
}

function diagnosisOf(record: CanonicalRecord): { code: string; display: string } {
  const ageYears = Math.floor(completedMonths(record.subject.birthDate, localDate(record.occurredAt)) / 12);
  const choices = diagnosisTable().byKind[record.kind] ?? [];
  const choice = choices.find((c) => c.maxAgeYears === undefined || ageYears < c.maxAgeYears);
  // terminology.ts guarantees a last choice for every age of every kind
  if (!choice) throw new Error(`mappings/diagnoses.json has no diagnosis for ${record.kind} at ${ageYears} years`);
  return choice;
}

// Roles of the record schema that are health workers (nakes) with an entry in the Master Nakes Index.
const NAKES_ROLES = new Set(['bidan', 'perawat', 'dokter', 'gizi']);

/**
 * A nakes who recorded the visit and gave their NIK answers for it; otherwise (a kader, or a nakes
 * without NIK) the posyandu's supervisor does. Kader are not in the Master Nakes Index, so they are not Practitioners.
 */
function practitionerOf(ctx: RecordContext): Reference<Practitioner> | undefined {
  const own = ownNik(ctx.record);
  const nik = own ?? ctx.posyandu.supervisorNik;
  if (!nik) return undefined;
  const name = own ? ctx.record.performer?.name : undefined;
  return { type: 'Practitioner', identifier: { system: fhirCommon().identifierSystems.nik, value: nik }, ...(name ? { display: name } : {}) };
}

function ownNik(record: CanonicalRecord): string | undefined {
  const p = record.performer;
  return p && NAKES_ROLES.has(p.role) ? p.nik : undefined;
}

/**
 * Performers of the record's Observations and Procedures: the practitioner who answers for it.
 * SATUSEHAT refuses anything but a Practitioner reference there (rule 10383), so a kader who
 * measured is not listed; the Immunization names kader its own way.
 */
function performerOf(practitioner: Reference<Practitioner> | undefined): Reference<Practitioner>[] | undefined {
  return practitioner ? [practitioner] : undefined;
}

/**
 * The posyandu's village as an address coded by region (SATUSEHAT's administrativeCode extension): the Location's own
 * (as in the official Imunisasi Postman collection), and that of a baby registered under the
 * mother's NIK, for whom SATUSEHAT requires one (rule 10333) and a posyandu serving its own village is the best Gerbang knows. The village
 * code holds the others' digits.
 */
function villageAddress(village: string, use: 'home' | 'work'): Address | undefined {
  if (!/^[0-9]{10}$/.test(village)) return undefined;
  const part = (url: string, code: string) => ({ url, valueCode: code });
  return {
    use,
    country: 'ID',
    extension: [
      {
        url: fhirCommon().administrativeCodeExtension,
        extension: [
          part('province', village.slice(0, 2)),
          part('city', village.slice(0, 4)),
          part('district', village.slice(0, 6)),
          part('village', village),
        ],
      },
    ],
  };
}
