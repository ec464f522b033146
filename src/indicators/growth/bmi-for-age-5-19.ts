import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MappingDataError } from '../../tables/mapping-data-error.js';
import { defineTable } from '../../tables/registry.js';
import { DAYS_PER_MONTH } from './age.js';
import { restrictedZ, roundZ, type Lms } from './lms.js';
import { readTable, rowAt, type LmsTable, type Sex } from './lms-tables.js';

// BMI-for-age of a child aged 5 to 19 by the WHO Growth Reference 2007, as WHO's anthroplus
// computes it (mappings/who-growth/README.md, reference-2007.json). The 2006 standards of
// zscore.ts stop below 60 months; this is where SATUSEHAT's posyandu remaja IMT/U (official PKPR Postman collection)
// comes from. Pure: same input, same result; a string says why there is no z-score.

interface Reference2007 {
  file: string;
  ageMonths: [number, number];
  method: 'restricted';
  flag: { below: number; above: number };
}

export interface BmiForAge {
  indicator: 'bmifa519';
  z: number;
  zRaw: number;
  implausible: boolean;
}

/** The 2007 reference, read and checked at start-up (src/tables/registry.ts). */
const reference2007 = defineTable<{ spec: Reference2007; table: Record<Sex, LmsTable> }>('who-growth/reference-2007.json', (dirs) => {
  const whoDir = join(dirs.mappings, 'who-growth');
  const file = join(whoDir, 'reference-2007.json');
  let spec: Reference2007 | undefined;
  try {
    spec = (JSON.parse(readFileSync(file, 'utf8')) as { bmifa?: Reference2007 }).bmifa;
  } catch (err) {
    throw new MappingDataError(`${file}: cannot be read as JSON (${(err as Error).message})`);
  }
  const [from, to] = spec?.ageMonths ?? [];
  if (!spec || typeof spec.file !== 'string' || !(typeof from === 'number' && typeof to === 'number' && from < to)) {
    throw new MappingDataError(`${file}: bmifa needs "file" and "ageMonths" [from, to]`);
  }
  if (spec.method !== 'restricted' || !(spec.flag?.below < 0 && spec.flag.above > 0)) {
    throw new MappingDataError(`${file}: bmifa needs method "restricted" and flag below < 0 < above`);
  }
  // Rows are whole months; `to + 1` must be there for the interpolation just below the last month.
  return { spec, table: readTable(join(whoDir, spec.file), { key: 'age', covers: [from, to + 1] }) };
});

/** The months the 2007 reference covers, both ends inclusive. */
export function bmiForAgeMonths(): [number, number] {
  return reference2007().spec.ageMonths;
}

/** IMT/U at `ageDays` for weight and (standing) height as measured; a string says why not. */
export function bmiForAge5to19(sex: Sex, ageDays: number, weightKg: number, heightCm: number, oedema = false): BmiForAge | string {
  const { spec, table } = reference2007();
  const months = ageDays / DAYS_PER_MONTH;
  const [from, to] = spec.ageMonths;
  if (months < from || months > to) return `age ${ageDays} days is outside the WHO 2007 BMI-for-age reference (${from}-${to} months)`;
  if (oedema) return 'oedema: no weight-based z-score (WHO)';
  if (!(weightKg > 0) || !(heightCm > 0)) return 'weight and height must be positive';
  const low = Math.trunc(months);
  const a = rowAt(table[sex], low);
  const b = rowAt(table[sex], low + 1);
  if (!a || !b) return `no WHO 2007 BMI-for-age row for month ${low}`;
  // anthroplus interpolates L, M and S between the whole months around the age
  const f = months - low;
  const lms: Lms = { l: a.l + f * (b.l - a.l), m: a.m + f * (b.m - a.m), s: a.s + f * (b.s - a.s) };
  const zRaw = restrictedZ(weightKg / (heightCm / 100) ** 2, lms);
  const z = roundZ(zRaw);
  return { indicator: 'bmifa519', z, zRaw, implausible: z < spec.flag.below || z > spec.flag.above };
}
