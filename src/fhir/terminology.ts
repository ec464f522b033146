import type { Coding } from '@medplum/fhirtypes';
import type { TimeZone } from '../config/types.js';
import { recordSchemas } from '../records/schemas/index.js';
import { timeZoneOffsets } from '../records/time.js';
import { checkCoding } from '../tables/read-table.js';
import { defineMapping } from '../tables/registry.js';

// The FHIR tables every mapping uses: identifier systems, fixed codings, time zones, diagnoses.

export interface FhirCommon {
  identifierSystems: Record<
    'nik' | 'nikIbu' | 'encounter' | 'observation' | 'procedure' | 'organization' | 'location' | 'newbornKey' | 'episodeOfCare' | 'medicationDispense' | 'immunization' | 'condition',
    string
  >;
  encounter: { class: Coding; status: 'finished'; participantType: Coding; diagnosisUse: Coding; dischargeDisposition: Coding };
  condition: { clinicalStatus: Coding; category: Coding };
  /** the visit's times when the record does not carry them (the file says why) */
  visit: { minutesBeforeRecordTime: number; dateOnlyLocalTime: string };
  timeZones: { fallback: TimeZone; byProvince: Record<string, TimeZone> };
  location: { physicalType: Coding };
  /** SATUSEHAT's address extension with province, city, district and village codes */
  administrativeCodeExtension: string;
  observationCategorySystem: string;
  observationCategories: Record<string, string>;
  ucum: string;
}

export const fhirCommon = defineMapping<FhirCommon>('fhir-common.json', (d, fail) => {
  for (const [k, v] of Object.entries(d.identifierSystems ?? {})) {
    if (typeof v !== 'string' || !/^https?:\/\//.test(v)) fail(`identifierSystems.${k}`, 'must be an http(s) URI');
  }
  checkCoding(d.encounter?.class, 'encounter.class', fail);
  checkCoding(d.encounter?.participantType, 'encounter.participantType', fail);
  if (typeof d.administrativeCodeExtension !== 'string' || !/^https?:\/\//.test(d.administrativeCodeExtension)) {
    fail('administrativeCodeExtension', 'must be an http(s) URI');
  }
  checkCoding(d.location?.physicalType, 'location.physicalType', fail);
  checkCoding(d.encounter?.diagnosisUse, 'encounter.diagnosisUse', fail);
  checkCoding(d.encounter?.dischargeDisposition, 'encounter.dischargeDisposition', fail);
  checkCoding(d.condition?.clinicalStatus, 'condition.clinicalStatus', fail);
  checkCoding(d.condition?.category, 'condition.category', fail);
  const minutes = d.visit?.minutesBeforeRecordTime;
  if (typeof minutes !== 'number' || !Number.isInteger(minutes) || minutes < 1) fail('visit.minutesBeforeRecordTime', 'must be a whole number of minutes, at least 1');
  if (!/^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$/.test(d.visit?.dateOnlyLocalTime ?? '')) fail('visit.dateOnlyLocalTime', 'must be a time of day hh:mm:ss');
  const isZone = (z: unknown) => typeof z === 'string' && Object.hasOwn(timeZoneOffsets, z);
  if (!isZone(d.timeZones?.fallback)) fail('timeZones.fallback', 'must be WIB, WITA or WIT');
  for (const [province, zone] of Object.entries(d.timeZones?.byProvince ?? {})) {
    if (!isZone(zone)) fail(`timeZones.byProvince.${province}`, 'must be WIB, WITA or WIT');
  }
});

export interface DiagnosisChoice {
  /** the first choice whose maxAgeYears is above the person's age applies; none means every age */
  maxAgeYears?: number;
  code: string;
  display: string;
  source: string;
  verified?: boolean;
}

export interface DiagnosisTable {
  system: string;
  byKind: Record<string, DiagnosisChoice[]>;
}

export const diagnosisTable = defineMapping<DiagnosisTable>('diagnoses.json', (d, fail) => {
  if (typeof d.system !== 'string' || !/^https?:\/\//.test(d.system)) fail('system', 'must be an http(s) URI');
  for (const [kind, choices] of Object.entries(d.byKind ?? {})) {
    if (!Array.isArray(choices) || choices.length === 0) fail(`byKind.${kind}`, 'must list at least one code');
    choices.forEach((c, i) => {
      if (typeof c.code !== 'string' || c.code.length === 0) fail(`byKind.${kind}[${i}].code`, 'must be a non-empty string');
      if (typeof c.source !== 'string' || c.source.length === 0) fail(`byKind.${kind}[${i}].source`, 'must say where the code comes from');
    });
    if (choices.at(-1)?.maxAgeYears !== undefined) fail(`byKind.${kind}`, 'the last choice must take every age (no maxAgeYears)');
  }
  for (const kind of Object.keys(recordSchemas)) if (!d.byKind?.[kind]) fail(`byKind.${kind}`, 'every record kind needs its visit diagnosis');
});

/** An identifier system with the puskesmas organization id put in, e.g. sys-ids…/encounter/10000004 */
export function identifierSystem(kind: keyof FhirCommon['identifierSystems'], orgId: string): string {
  return fhirCommon().identifierSystems[kind].replace('{orgId}', orgId);
}
