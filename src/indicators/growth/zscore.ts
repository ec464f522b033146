import { ageInDays, ageOutOfRange } from './age.js';
import { HEIGHT_FROM_DAYS, standardiseLengthHeight, type Position } from './length-height.js';
import { lmsZ, restrictedZ, roundZ } from './lms.js';
import { growthTables, lmsAtLength, rowAt, tableRange, type Indicator, type Lms, type Sex } from './lms-tables.js';

// Growth z-scores of a child under five by the WHO method, as WHO's anthro package computes them
// (mappings/who-growth/README.md; which table, formula and flag limits each indicator uses is in
// mappings/who-growth/indicators.json). Pure: same input, same result. Nothing is thrown for a
// value the standard does not cover: the indicator is listed in `skipped` with the reason. Only a
// malformed date throws (a RangeError), as that is a bug before this point, not a child's data.

export type { Indicator, Sex } from './lms-tables.js';

export interface GrowthInput {
  sex: Sex;
  /** YYYY-MM-DD */
  birthDate: string;
  /** calendar date (YYYY-MM-DD) of the measurement, as the posyandu saw it */
  measuredOn: string;
  weightKg?: number;
  /** length or height as measured, before the 0.7 cm correction */
  heightCm?: number;
  position?: Position;
  headCircumferenceCm?: number;
  muacCm?: number;
  oedema?: boolean;
}

export interface ZScore {
  indicator: Indicator;
  /** rounded to two decimals as anthro reports it; categories and flags use this one */
  z: number;
  zRaw: number;
  /** outside WHO's biologically plausible limits: kept and flagged, never dropped */
  implausible: boolean;
}

export interface Skipped {
  indicator: Indicator;
  reason: string;
}

export interface GrowthResult {
  ageDays: number;
  /** length/height after the 0.7 cm lying/standing correction, when one was measured */
  correctedHeightCm?: number;
  /** in the order wfa, lfa|hfa, wfl|wfh, bmifa, hcfa, muacfa */
  zScores: ZScore[];
  /** every indicator whose measurement was given but has no z-score, with why */
  skipped: Skipped[];
  /** 'standing-under-9-months': the recorded position was ignored, as anthro does */
  flags: string[];
}

const OEDEMA = 'oedema: no weight-based z-score (WHO)';

export function computeGrowth(input: GrowthInput): GrowthResult {
  const ageDays = ageInDays(input.birthDate, input.measuredOn);
  const result: GrowthResult = { ageDays, zScores: [], skipped: [], flags: [] };
  const { indicators } = growthTables();
  const ageProblem = ageOutOfRange(ageDays);

  /** `y` is the measurement, or the reason there is none. */
  const add = (indicator: Indicator, key: number, y: number | string) => {
    const oedema = input.oedema === true && indicators[indicator].weightBased ? OEDEMA : undefined;
    const outcome = ageProblem ?? oedema ?? (typeof y === 'string' ? y : zScoreAt(indicator, input.sex, key, y));
    if (typeof outcome === 'string') result.skipped.push({ indicator, reason: outcome });
    else result.zScores.push(outcome);
  };

  const weight = usable(input.weightKg, 'weight');
  if (weight !== undefined) add('wfa', ageDays, weight);

  const measured = usable(input.heightCm, 'length/height');
  if (measured !== undefined) {
    const isLength = ageDays < HEIGHT_FROM_DAYS;
    const height = typeof measured === 'number' ? standardiseLengthHeight(measured, input.position, ageDays) : undefined;
    if (height) result.correctedHeightCm = height.cm;
    if (height?.positionIgnored) result.flags.push('standing-under-9-months');
    add(isLength ? 'lfa' : 'hfa', ageDays, height?.cm ?? measured);
    if (weight !== undefined) {
      // Both by the corrected length/height; BMI too (anthro: cbmi = weight / (clenhei/100)^2).
      const wfl = isLength ? 'wfl' : 'wfh';
      if (height && typeof weight === 'number') {
        add(wfl, height.cm, weight);
        add('bmifa', ageDays, weight / (height.cm / 100) ** 2);
      } else {
        const why = typeof weight === 'string' ? weight : (measured as string); // no height: measured is its reason
        add(wfl, Number.NaN, why);
        add('bmifa', ageDays, why);
      }
    }
  }

  const head = usable(input.headCircumferenceCm, 'head circumference');
  if (head !== undefined) add('hcfa', ageDays, head);
  const muac = usable(input.muacCm, 'MUAC');
  if (muac !== undefined) add('muacfa', ageDays, muac);
  return result;
}

/**
 * The z-score of measurement `y` for one indicator: `key` is the age in days, or for wfl/wfh the
 * (already corrected) length/height in cm, interpolated between 0.1 cm rows. A string says why
 * there is none (outside the table). Exported for tests that walk the tables row by row.
 */
export function zScoreAt(indicator: Indicator, sex: Sex, key: number, y: number): ZScore | string {
  const { indicators, tables } = growthTables();
  const spec = indicators[indicator];
  const table = tables[spec.table][sex];
  const byLength = table.keyColumn !== 'age';
  const lms: Lms | undefined = byLength ? lmsAtLength(table, key) : rowAt(table, key);
  if (!lms) {
    const [first, last] = tableRange(table);
    return byLength
      ? `${table.keyColumn} ${Number(key.toFixed(2))} cm is outside the WHO table (${first}-${last} cm)`
      : `no WHO ${indicator} row for day ${key} (the table covers days ${first}-${last})`;
  }
  const zRaw = spec.method === 'restricted' ? restrictedZ(y, lms) : lmsZ(y, lms);
  const z = roundZ(zRaw);
  // anthro flags the rounded z: 5.004 is reported as 5 and is not "above 5".
  return { indicator, z, zRaw, implausible: z < spec.flag.below || z > spec.flag.above };
}

/** Not given: undefined. anthro treats a measurement <= 0 as missing; Gerbang keeps the reason. */
function usable(value: number | undefined, what: string): number | string | undefined {
  if (value === undefined) return undefined;
  return Number.isFinite(value) && value > 0 ? value : `${what} ${value} is not a positive number`;
}
