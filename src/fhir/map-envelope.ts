import type { Address, Encounter, EpisodeOfCare, Identifier, Location, Organization, Patient, Practitioner, Reference } from '@medplum/fhirtypes';
import type { Posyandu, Puskesmas } from '../config/types.js';
import type { SubjectHistory } from '../sync/subject-history.js';
import type { CanonicalRecord } from '../records/schemas/index.js';
import type { TransactionBuilder } from './bundle-builder.js';
import { fhirCommon, identifierSystem } from './terminology.js';

/** What every record kind's mapping needs: who, where, when, and the keys of its identifiers. */
export interface RecordContext {
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
  effective: string;
  performer: Reference<Practitioner>[] | undefined;
  /**
   * The health worker who answers for the record, named by NIK (a logical reference): the
   * performer when a nakes with a NIK recorded it, else the posyandu's supervisor (design.md).
   */
  practitioner: Reference<Practitioner> | undefined;
}

/** What a record kind adds to its visit, written before the Encounter that refers to it. */
export type EncounterContext = (
  ctx: RecordContext,
  refs: { patient: Reference<Patient>; organization: Reference<Organization> },
  b: TransactionBuilder,
) => { identifiers?: Identifier[]; episodeOfCare?: Reference<EpisodeOfCare> };

/** Writes the Organization, Location, Patient and Encounter every record hangs on. */
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
  const effective = fhirDateTime(ctx.record.occurredAt);
  const extra = encounterContext?.(ctx, { patient, organization }, b) ?? {};
  const practitioner = practitionerOf(ctx);
  const resource = encounterResource(ctx, { patient, location, organization, effective, practitioner });
  resource.identifier?.push(...(extra.identifiers ?? []));
  if (extra.episodeOfCare) resource.episodeOfCare = [extra.episodeOfCare];
  const encounter = b.upsert('encounter', resource);
  return { patient, encounter, organization, location, effective, practitioner, performer: performerOf(practitioner) };
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

function locationResource(ctx: RecordContext, organization: Reference<Organization>): Location {
  return {
    resourceType: 'Location',
    identifier: [{ system: identifierSystem('location', ctx.puskesmas.organizationId), value: ctx.posyanduCode }],
    status: 'active',
    name: ctx.posyandu.name,
    mode: 'instance',
    physicalType: { coding: [fhirCommon.location.physicalType] },
    managingOrganization: organization,
  };
}

function patientOf(record: CanonicalRecord, posyandu: Posyandu): { resource: Patient; match: { system: string; value: string } } {
  const { subject } = record;
  const ids = fhirCommon.identifierSystems;
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
  const address = posyandu.village ? villageAddress(posyandu.village) : undefined;
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
    effective: string;
    practitioner: Reference<Practitioner> | undefined;
  },
): Encounter {
  const period = { start: refs.effective, end: refs.effective };
  return {
    resourceType: 'Encounter',
    identifier: [{ system: identifierSystem('encounter', ctx.puskesmas.organizationId), value: ctx.key }],
    status: fhirCommon.encounter.status,
    // SATUSEHAT requires the history (rule 10122); a posyandu visit is recorded after the fact.
    statusHistory: [
      { status: 'arrived', period },
      { status: 'in-progress', period },
      { status: 'finished', period },
    ],
    class: fhirCommon.encounter.class,
    subject: refs.patient,
    // SATUSEHAT 10119: the attending health worker is mandatory.
    ...(refs.practitioner ? { participant: [{ type: [{ coding: [fhirCommon.encounter.participantType] }], individual: refs.practitioner }] } : {}),
    period,
    location: [{ location: { ...refs.location, display: ctx.posyandu.name } }],
    serviceProvider: refs.organization,
  };
}

// Roles of the record schema that are health workers (nakes) with an entry in the Master Nakes Index.
const NAKES_ROLES = new Set(['bidan', 'perawat', 'dokter', 'gizi']);

/**
 * A nakes who recorded the visit and gave their NIK answers for it; otherwise (a kader, or a nakes
 * without NIK) the posyandu's supervisor does. Kader are not Practitioners (satusehat.md §2.3).
 */
function practitionerOf(ctx: RecordContext): Reference<Practitioner> | undefined {
  const own = ownNik(ctx.record);
  const nik = own ?? ctx.posyandu.supervisorNik;
  if (!nik) return undefined;
  const name = own ? ctx.record.performer?.name : undefined;
  return { type: 'Practitioner', identifier: { system: fhirCommon.identifierSystems.nik, value: nik }, ...(name ? { display: name } : {}) };
}

function ownNik(record: CanonicalRecord): string | undefined {
  const p = record.performer;
  return p && NAKES_ROLES.has(p.role) ? p.nik : undefined;
}

/**
 * Performers of the record's Observations and Procedures: the practitioner who answers for it.
 * SATUSEHAT refuses anything but a Practitioner reference there (rule 10383), so a kader who
 * measured is not listed; the Immunization names kader its own way (P13__017).
 */
function performerOf(practitioner: Reference<Practitioner> | undefined): Reference<Practitioner>[] | undefined {
  return practitioner ? [practitioner] : undefined;
}

/**
 * The posyandu's village as the address of a baby registered under the mother's NIK: SATUSEHAT
 * requires an address (rule 10333) and codes it by region (satusehat.md §2.2); a posyandu serves
 * its own village, so it is the best Gerbang knows. The village code holds the others' digits.
 */
function villageAddress(village: string): Address | undefined {
  if (!/^[0-9]{10}$/.test(village)) return undefined;
  const part = (url: string, code: string) => ({ url, valueCode: code });
  return {
    use: 'home',
    country: 'ID',
    extension: [
      {
        url: fhirCommon.administrativeCodeExtension,
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

/**
 * Record times go upstream in UTC with an explicit +00:00, the form SATUSEHAT documents (satusehat.md
 * section 3); a bare date stays a date.
 */
export function fhirDateTime(value: string): string {
  if (value.length === 10) return value;
  return new Date(value).toISOString().replace(/\.\d{3}Z$/, '+00:00');
}
