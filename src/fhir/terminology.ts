import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Coding } from '@medplum/fhirtypes';
import { mappingsDir } from '../config/paths.js';
import { MappingDataError } from './mapping-data-error.js';

// Code tables are read once, at start-up, and checked here so that a broken file stops the gateway
// with its name and the place that is wrong, instead of producing bad resources later.

export interface FhirCommon {
  identifierSystems: Record<
    'nik' | 'nikIbu' | 'encounter' | 'observation' | 'procedure' | 'organization' | 'location' | 'newbornKey' | 'episodeOfCare' | 'medicationDispense' | 'immunization',
    string
  >;
  encounter: { class: Coding; status: 'finished'; participantType: Coding };
  location: { physicalType: Coding };
  /** SATUSEHAT's address extension with province, city, district and village codes */
  administrativeCodeExtension: string;
  observationCategorySystem: string;
  observationCategories: Record<string, string>;
  ucum: string;
}

export function readMapping<T>(name: string, check: (data: T, fail: (at: string, problem: string) => never) => void): T {
  const file = join(mappingsDir, name);
  let data: T;
  try {
    data = JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (err) {
    throw new MappingDataError(`${file}: cannot be read as JSON (${(err as Error).message})`);
  }
  check(data, (at, problem) => {
    throw new MappingDataError(`${file}: ${at}: ${problem}`);
  });
  return data;
}

export function checkCoding(c: unknown, at: string, fail: (at: string, problem: string) => never): void {
  const coding = c as Coding | undefined;
  if (!coding || typeof coding.system !== 'string' || !/^(https?:|urn:)/.test(coding.system)) fail(`${at}.system`, 'must be a URI');
  if (typeof coding.code !== 'string' || coding.code.length === 0) fail(`${at}.code`, 'must be a non-empty string');
}

export const fhirCommon = readMapping<FhirCommon>('fhir-common.json', (d, fail) => {
  for (const [k, v] of Object.entries(d.identifierSystems ?? {})) {
    if (typeof v !== 'string' || !/^https?:\/\//.test(v)) fail(`identifierSystems.${k}`, 'must be an http(s) URI');
  }
  checkCoding(d.encounter?.class, 'encounter.class', fail);
  checkCoding(d.encounter?.participantType, 'encounter.participantType', fail);
  if (typeof d.administrativeCodeExtension !== 'string' || !/^https?:\/\//.test(d.administrativeCodeExtension)) {
    fail('administrativeCodeExtension', 'must be an http(s) URI');
  }
  checkCoding(d.location?.physicalType, 'location.physicalType', fail);
});

/** An identifier system with the puskesmas organization id put in, e.g. sys-ids…/encounter/10000004 */
export function identifierSystem(kind: keyof FhirCommon['identifierSystems'], orgId: string): string {
  return fhirCommon.identifierSystems[kind].replace('{orgId}', orgId);
}
