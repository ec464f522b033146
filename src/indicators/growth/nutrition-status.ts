import type { Coding } from '@medplum/fhirtypes';
import { checkCoding } from '../../tables/read-table.js';
import { defineMapping } from '../../tables/registry.js';
import type { Indicator } from './lms-tables.js';

/** The WHO 2006 indicators of zscore.ts, and IMT/U 5-19 years of bmi-for-age-5-19.ts */
export type GrowthIndicator = Indicator | 'bmifa519';

// Permenkes 2/2020 nutrition-status categories from growth z-scores, with the codes SATUSEHAT
// takes as Observation.interpretation. Every cut-off and code is in mappings/nutrition-status.json
// with its source; this module only checks the file and finds the band a z falls in.

type Label = { id: string; en: string };
type SourcedCoding = Coding & { source?: string; verified?: boolean };

interface BandSpec {
  key: string;
  /** the band holds z < below, or z ≤ atMost; the last band holds the rest */
  below?: number;
  atMost?: number;
  label: Label;
  interpretation: Coding;
  source: string;
  verified: boolean;
  alternatives?: SourcedCoding[];
}

interface BandSet {
  index: string;
  source: string;
  /** the cut-offs are confirmed in the cited source */
  verified: boolean;
  /** false: codes kept ready, but no category is given until the cut-offs are confirmed */
  use: boolean;
  /** the Observation lists the bands as referenceRange (the official PKPR Postman collection's IMT/U does) */
  referenceRange?: boolean;
  bands: BandSpec[];
}

interface IndicatorSpec {
  label: Label;
  /** the SNOMED z-score observable; absent when none is known */
  code?: Coding;
  codeSource?: string;
  codeVerified?: boolean;
  /** the measurements it is derived from (fields of the anthropometry record) */
  from: string[];
  bands?: string;
  /** overrides the band set's cut-off status for this indicator (IMT/U borrows BB/PB-TB's) */
  cutoffs?: { verified: boolean; source: string };
  /** false: computed and shown, not sent upstream (no code for it) */
  send?: boolean;
}

interface NutritionStatusTable {
  zScoreUnit: { unit: string; system: string; code: string };
  category: string;
  indicators: Record<GrowthIndicator, IndicatorSpec>;
  bandSets: Record<string, BandSet>;
}

/** The category a z-score falls in, ready for Observation.interpretation. */
export interface NutritionCategory {
  key: string;
  label: Label;
  interpretation: Coding;
  /** other codings for the same category (e.g. the Kemkes OI code where SNOMED is primary) */
  alternatives: SourcedCoding[];
  /** the primary interpretation code is seen in official SATUSEHAT material */
  codeVerified: boolean;
  /** the cut-offs are confirmed for this indicator */
  cutoffsVerified: boolean;
}

const INDICATORS: GrowthIndicator[] = ['wfa', 'lfa', 'hfa', 'wfl', 'wfh', 'bmifa', 'bmifa519', 'hcfa', 'muacfa'];

export const nutritionStatus = defineMapping<NutritionStatusTable>('nutrition-status.json', (d, fail) => {
  if (!d.zScoreUnit?.code || !d.zScoreUnit.system) fail('zScoreUnit', 'needs unit, system and code');
  for (const name of INDICATORS) {
    const spec = d.indicators?.[name];
    if (!spec?.label?.id || !spec.label.en) fail(`indicators.${name}.label`, 'needs id and en');
    if (spec.send !== false) checkCoding(spec.code, `indicators.${name}.code`, fail);
    if (spec.bands !== undefined && !d.bandSets?.[spec.bands]) fail(`indicators.${name}.bands`, `no band set "${spec.bands}"`);
  }
  for (const [name, set] of Object.entries(d.bandSets ?? {})) {
    const at = `bandSets.${name}`;
    if (typeof set.verified !== 'boolean' || typeof set.use !== 'boolean') fail(at, 'needs "verified" and "use" (true or false)');
    if (!set.source) fail(`${at}.source`, 'say where the cut-offs come from');
    if (!Array.isArray(set.bands) || set.bands.length === 0) fail(`${at}.bands`, 'at least one band is required');
    let previous = Number.NEGATIVE_INFINITY;
    set.bands.forEach((b, i) => {
      const bound = b.below ?? b.atMost;
      const last = i === set.bands.length - 1;
      if (last !== (bound === undefined)) fail(`${at}.bands[${i}]`, 'every band but the last needs "below" or "atMost"; the last has neither');
      if (bound !== undefined && !(bound > previous)) fail(`${at}.bands[${i}]`, 'bounds must increase from band to band');
      previous = bound ?? previous;
      if (!b.label?.id || !b.label.en) fail(`${at}.bands[${i}].label`, 'needs id and en');
      checkCoding(b.interpretation, `${at}.bands[${i}].interpretation`, fail);
      if (typeof b.verified !== 'boolean' || !b.source) fail(`${at}.bands[${i}]`, 'needs "source" and "verified"');
      (b.alternatives ?? []).forEach((c, j) => checkCoding(c, `${at}.bands[${i}].alternatives[${j}]`, fail));
    });
  }
});

/**
 * The Permenkes 2/2020 category of a z-score, which must already be rounded to 2 decimals as WHO
 * anthro reports it (the PMK ranges are half-open; on 2-decimal values they match SATUSEHAT's
 * bands). Undefined for LiLA/U, and for LK/U while its cut-offs are unconfirmed.
 */
export function classify(indicator: GrowthIndicator, z: number): NutritionCategory | undefined {
  const spec = nutritionStatus().indicators[indicator];
  const set = spec.bands === undefined ? undefined : nutritionStatus().bandSets[spec.bands];
  if (!set?.use || !Number.isFinite(z)) return undefined;
  const band = set.bands.find((b) => (b.below !== undefined ? z < b.below : b.atMost !== undefined ? z <= b.atMost : true));
  if (!band) return undefined;
  return {
    key: band.key,
    label: band.label,
    interpretation: band.interpretation,
    alternatives: band.alternatives ?? [],
    codeVerified: band.verified,
    cutoffsVerified: spec.cutoffs?.verified ?? set.verified,
  };
}

/** One band as Observation.referenceRange gives it on 2-decimal z-scores, as the official PKPR Postman collection's IMT/U does. */
export interface ZRange {
  low?: number;
  high?: number;
  label: Label;
}

/**
 * The bands of an indicator as 2-decimal ranges ("< -3" is high -3.01, "<= 1" is high 1 and the next
 * band starts at 1.01), when its band set says the Observation carries them; else undefined.
 */
export function referenceRanges(indicator: GrowthIndicator): ZRange[] | undefined {
  const spec = nutritionStatus().indicators[indicator];
  const set = spec.bands === undefined ? undefined : nutritionStatus().bandSets[spec.bands];
  if (!set?.use || !set.referenceRange) return undefined;
  const ranges: ZRange[] = [];
  let low: number | undefined;
  for (const band of set.bands) {
    const high = band.below !== undefined ? hundredths(band.below - 0.01) : band.atMost;
    ranges.push({ ...(low !== undefined ? { low } : {}), ...(high !== undefined ? { high } : {}), label: band.label });
    low = band.below !== undefined ? band.below : band.atMost !== undefined ? hundredths(band.atMost + 0.01) : undefined;
  }
  return ranges;
}

function hundredths(n: number): number {
  return Math.round(n * 100) / 100;
}
