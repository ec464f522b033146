import type { Encounter, EpisodeOfCare, Identifier, Location, Observation, Organization, Patient, Reference } from '@medplum/fhirtypes';
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
  performer: Observation['performer'];
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
  const { resource: patientResource, match } = patientOf(ctx.record);
  const patient = b.createIfMissing('patient', patientResource, match);
  const effective = fhirDateTime(ctx.record.occurredAt);
  const extra = encounterContext?.(ctx, { patient, organization }, b) ?? {};
  const resource = encounterResource(ctx, { patient, location, organization, effective });
  resource.identifier?.push(...(extra.identifiers ?? []));
  if (extra.episodeOfCare) resource.episodeOfCare = [extra.episodeOfCare];
  const encounter = b.upsert('encounter', resource);
  return { patient, encounter, organization, location, effective, performer: performerOf(ctx.record) };
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

function patientOf(record: CanonicalRecord): { resource: Patient; match: { system: string; value: string } } {
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
  return {
    resource: { ...base, identifier: [{ system: ids.nikIbu, value: motherNik }, match] },
    match,
  };
}

function encounterResource(
  ctx: RecordContext,
  refs: { patient: Reference<Patient>; location: Reference<Location>; organization: Reference<Organization>; effective: string },
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
    period,
    location: [{ location: { ...refs.location, display: ctx.posyandu.name } }],
    serviceProvider: refs.organization,
  };
}

/** A kader is not a Practitioner: named as text, so the record still says who measured. */
function performerOf(record: CanonicalRecord): Observation['performer'] {
  const p = record.performer;
  if (!p) return undefined;
  return [{ display: p.name ? `${p.name} (${p.role})` : p.role }];
}

/**
 * Record times go upstream in UTC with an explicit +00:00, the form SATUSEHAT documents (satusehat.md
 * section 3); a bare date stays a date.
 */
export function fhirDateTime(value: string): string {
  if (value.length === 10) return value;
  return new Date(value).toISOString().replace(/\.\d{3}Z$/, '+00:00');
}
