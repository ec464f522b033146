// The LMS method of the WHO Child Growth Standards (WHO MGRS 2006, chapter 7; the same formulas as
// WHO's anthro package, R/z-score-helper.R). Pure arithmetic on one table row.

/** One row of a WHO table: Box-Cox power L, median M, coefficient of variation S. */
export interface Lms {
  l: number;
  m: number;
  s: number;
}

/** z = ((y/M)^L − 1) / (S·L); at L = 0 the formula's limit, ln(y/M)/S (no WHO row has L = 0). */
export function lmsZ(y: number, { l, m, s }: Lms): number {
  return l === 0 ? Math.log(y / m) / s : ((y / m) ** l - 1) / (s * l);
}

/** The measurement at a given z: M·(1 + L·S·z)^(1/L). */
export function lmsValue(z: number, { l, m, s }: Lms): number {
  return l === 0 ? m * Math.exp(s * z) : m * (1 + l * s * z) ** (1 / l);
}

/**
 * WHO's "restricted application" for skewed indicators: the curves were fitted within ±3 SD only,
 * so beyond ±3 the distance from the 3 SD line is measured in units of the 2-to-3 SD interval on
 * that side (a straight line) instead of following the LMS power curve out into the tail.
 */
export function restrictedZ(y: number, lms: Lms): number {
  const z = lmsZ(y, lms);
  if (z > 3) {
    const sd3 = lmsValue(3, lms);
    return 3 + (y - sd3) / (sd3 - lmsValue(2, lms));
  }
  if (z < -3) {
    const sd3 = lmsValue(-3, lms);
    return -3 + (y - sd3) / (lmsValue(-2, lms) - sd3);
  }
  return z;
}

/** The inverse of restrictedZ: the measurement WHO's restricted method puts at z. */
export function restrictedValue(z: number, lms: Lms): number {
  if (z > 3) return lmsValue(3, lms) + (z - 3) * (lmsValue(3, lms) - lmsValue(2, lms));
  if (z < -3) return lmsValue(-3, lms) + (z + 3) * (lmsValue(-2, lms) - lmsValue(-3, lms));
  return lmsValue(z, lms);
}

/**
 * Two decimals the way anthro reports them, i.e. R's round(z, 2) (R ≥ 4.0): the decimal nearest to
 * the double actually stored, so 2.675 (stored as 2.67499…) gives 2.67, and an exact tie goes to
 * the even digit, so 0.125 gives 0.12 and −0.125 gives −0.12. Math.round(z·100)/100 gets both
 * wrong (2.68; −0.12 but +0.13). An exact tie needs z·100 to end in .5 exactly, which a double
 * can only hold when z is an odd multiple of 1/8.
 */
export function roundZ(z: number): number {
  const eighths = z * 8; // exact: a power-of-two scaling
  if (Number.isInteger(eighths) && eighths % 2 !== 0) {
    const hundredths = z * 100; // exact here (12.5 × an odd integer)
    const down = Math.floor(hundredths);
    return (down % 2 === 0 ? down : down + 1) / 100;
  }
  // toFixed rounds the exact binary value, which is what R does outside ties; + 0 folds −0 into 0.
  return Number(z.toFixed(2)) + 0;
}
