import { DAYS_PER_MONTH } from './age.js';

// Lying length and standing height of the same child differ by about 0.7 cm, and the WHO standard
// itself switches from length to height at 731 days (boys' median: 87.80 cm lying at day 730,
// 87.13 cm standing at day 731). A measurement taken the "other" way is converted before use, as
// anthro's adjust_lenhei does; every length/height-based z-score then uses the converted value.

/** From this age (days) the standard is standing height; below it, recumbent length. */
export const HEIGHT_FROM_DAYS = 731;
const LYING_STANDING_CM = 0.7;
/** Below 9 months a child cannot stand to be measured: anthro drops such a position. */
const STANDING_FROM_MONTHS = 9;

export type Position = 'lying' | 'standing';

export interface StandardisedLength {
  /** the value the tables are read with */
  cm: number;
  /** what the standard expects at this age, and so what `cm` now is */
  basis: 'length' | 'height';
  /** +0.7, −0.7 or 0 */
  correctionCm: number;
  /** "standing" under 9 months: treated as position not recorded (anthro's c9mo_flag) */
  positionIgnored: boolean;
}

export function standardiseLengthHeight(measuredCm: number, position: Position | undefined, ageDays: number): StandardisedLength {
  const positionIgnored = position === 'standing' && ageDays / DAYS_PER_MONTH < STANDING_FROM_MONTHS;
  const used = positionIgnored ? undefined : position;
  const basis = ageDays < HEIGHT_FROM_DAYS ? 'length' : 'height';
  // No recorded position: the measurement is taken to match the age, so there is nothing to convert.
  const correctionCm = basis === 'length' && used === 'standing' ? LYING_STANDING_CM : basis === 'height' && used === 'lying' ? -LYING_STANDING_CM : 0;
  return { cm: measuredCm + correctionCm, basis, correctionCm, positionIgnored };
}
