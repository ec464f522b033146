import type { Coding } from '@medplum/fhirtypes';
import { checkCoding } from '../tables/read-table.js';
import { defineMapping } from '../tables/registry.js';

// mappings/anthropometry.json: codes, units and value bands of the anthropometry record's
// measurements, checked once at start-up.

type Label = { id: string; en: string };

export type MeasurementField = 'weightKg' | 'heightCm' | 'headCircumferenceCm' | 'muacCm' | 'birthWeightG' | 'birthLengthCm';

export interface QuantityMeasure {
  key: string;
  category: string;
  code?: Coding;
  byPosition?: Record<'lying' | 'standing', Coding>;
  /** a second Observation with the position-free code (8302-2 beside 8306-3 / 8308-9) */
  generic?: { key: string; code: Coding };
  unit: { unit: string; code: string };
  /** the value band set (under `interpretations`) that interprets the measured value */
  interpretation?: string;
}

export interface ValueBand {
  key: string;
  below?: number;
  label: Label;
  /** absent: the band is known but no official code is sent for it */
  interpretation?: Coding;
  source: string;
  verified: boolean;
}

export interface ValueBandSet {
  index: string;
  /** completed months, both ends inclusive */
  ageMonths?: [number, number];
  source: string;
  verified: boolean;
  bands: ValueBand[];
}

interface CodedObservation {
  key: string;
  category: string;
  code: Coding;
}

export interface AnthropometryTable {
  measurements: Record<MeasurementField, QuantityMeasure>;
  interpretations: Record<string, ValueBandSet>;
  booleans: Record<'exclusiveBreastfeeding', CodedObservation>;
  vitaminA: {
    key: string;
    category: Coding;
    code: Coding;
    capsules: Record<'blue' | 'red', Label & { value?: Coding }>;
    count: CodedObservation;
  };
}

export const MEASUREMENT_FIELDS: MeasurementField[] = ['weightKg', 'heightCm', 'headCircumferenceCm', 'muacCm', 'birthWeightG', 'birthLengthCm'];

export const anthropometryTable = defineMapping<AnthropometryTable>('anthropometry.json', (d, fail) => {
  const keys = new Set<string>();
  const newKey = (key: string | undefined, at: string) => {
    if (!key || keys.has(key)) return fail(at, 'must be present and unique');
    keys.add(key);
  };
  for (const field of MEASUREMENT_FIELDS) {
    const m = d.measurements?.[field];
    if (!m) fail(`measurements.${field}`, 'is missing');
    newKey(m.key, `measurements.${field}.key`);
    if (m.byPosition) {
      checkCoding(m.byPosition.lying, `measurements.${field}.byPosition.lying`, fail);
      checkCoding(m.byPosition.standing, `measurements.${field}.byPosition.standing`, fail);
    } else {
      checkCoding(m.code, `measurements.${field}.code`, fail);
    }
    if (m.generic) {
      newKey(m.generic.key, `measurements.${field}.generic.key`);
      checkCoding(m.generic.code, `measurements.${field}.generic.code`, fail);
    }
    if (!m.unit?.code) fail(`measurements.${field}.unit.code`, 'a UCUM code is required');
    if (m.interpretation !== undefined && !d.interpretations?.[m.interpretation]) fail(`measurements.${field}.interpretation`, `no band set "${m.interpretation}"`);
  }
  for (const [name, set] of Object.entries(d.interpretations ?? {})) {
    if (name.startsWith('_')) continue;
    const at = `interpretations.${name}`;
    if (typeof set.verified !== 'boolean' || !set.source) fail(at, 'needs "source" and "verified"');
    if (!Array.isArray(set.bands) || set.bands.length === 0) fail(`${at}.bands`, 'at least one band is required');
    let previous = Number.NEGATIVE_INFINITY;
    set.bands.forEach((b, i) => {
      const last = i === set.bands.length - 1;
      if (last !== (b.below === undefined)) fail(`${at}.bands[${i}]`, 'every band but the last needs "below"; the last has none');
      if (b.below !== undefined && !(b.below > previous)) fail(`${at}.bands[${i}].below`, 'bounds must increase from band to band');
      previous = b.below ?? previous;
      if (!b.label?.id || !b.label.en) fail(`${at}.bands[${i}].label`, 'needs id and en');
      if (b.interpretation !== undefined) checkCoding(b.interpretation, `${at}.bands[${i}].interpretation`, fail);
      if (typeof b.verified !== 'boolean' || !b.source) fail(`${at}.bands[${i}]`, 'needs "source" and "verified"');
    });
  }
  for (const [field, b] of Object.entries(d.booleans ?? {})) {
    newKey(b.key, `booleans.${field}.key`);
    checkCoding(b.code, `booleans.${field}.code`, fail);
  }
  const v = d.vitaminA;
  newKey(v?.key, 'vitaminA.key');
  checkCoding(v?.code, 'vitaminA.code', fail);
  checkCoding(v?.category, 'vitaminA.category', fail);
  newKey(v?.count?.key, 'vitaminA.count.key');
  checkCoding(v?.count?.code, 'vitaminA.count.code', fail);
  for (const colour of ['blue', 'red'] as const) {
    const c = v?.capsules?.[colour];
    if (!c?.id || !c.en) fail(`vitaminA.capsules.${colour}`, 'needs id and en');
    if (c.value !== undefined) checkCoding(c.value, `vitaminA.capsules.${colour}.value`, fail);
  }
});

/** The band a measured value falls in at this age, or undefined when the set does not apply. */
export function valueBand(setName: string, value: number, ageMonths: number): ValueBand | undefined {
  const set = anthropometryTable().interpretations[setName];
  if (!set) return undefined;
  if (set.ageMonths && (ageMonths < set.ageMonths[0] || ageMonths > set.ageMonths[1])) return undefined;
  return set.bands.find((b) => b.below === undefined || value < b.below);
}
