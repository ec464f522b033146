import type { Coding } from '@medplum/fhirtypes';
import { checkCoding } from '../tables/read-table.js';
import { defineMapping } from '../tables/registry.js';

// Screening interpretations (hypertension class, BMI class, central obesity, glucose and HbA1c
// classes, cholesterol, uric acid, anaemia) and the reference ranges sent beside them. Thresholds,
// codes and ranges are data: mappings/screening.json (each with the official example it follows).

type Label = { id: string; en: string };
type Sex = 'male' | 'female';
export type GlucoseTest = 'random' | 'fasting' | '2h-pp';
interface BmiBand { key: string; below?: number; atMost?: number; label: Label; interpretation: Coding }
interface BpClass { key: string; systolicBelow?: number; diastolicBelow?: number; label: Label; interpretation: Coding }
interface AnaemiaGroup { key: string; fromMonths: number; belowMonths?: number; sex?: Sex; pregnant?: boolean; mild: number; moderate: number; severe: number }
/** A class a value belongs to from `from` on, up to the next class's `from`. */
interface ValueClass { key: string; from: number; label: Label; interpretation: Coding }
/** One row of an Observation.referenceRange: bounds in the measure's unit, `normal` for the normal range. */
export interface RangeRow { low?: number; high?: number; normal?: boolean; text: string }
type Unit = { unit: string; code: string };

export interface ScreeningTable {
  measurements: Record<string, { key: string; category: string; code: Coding; unit: Unit }>;
  glucose: { key: string; category: string; unit: Unit; byTest: Record<GlucoseTest, Coding>; classes: Record<GlucoseTest, ValueClass[]>; referenceRange: Record<GlucoseTest, RangeRow[]> };
  hba1c: { classes: ValueClass[]; referenceRange: RangeRow[] };
  bmi: { key: string; category: string; code: Coding; unit: Unit; adultFromYears: number; bands: BmiBand[]; referenceRange: RangeRow[] };
  bloodPressure: {
    key: string;
    category: string;
    code: Coding;
    ratioUnit: Unit;
    classes: BpClass[];
    isolatedSystolic: { systolicFrom: number; diastolicBelow: number; key: string; label: Label; interpretation: Coding };
    referenceRange: string[];
  };
  waist: { fromYears: number; centralObesityFrom: Record<Sex, number>; label: Label; referenceRange: Record<Sex, RangeRow[]> };
  cholesterol: { highFrom: number; borderlineFrom: number; referenceRange: RangeRow[] };
  uricAcid: { highAbove: Record<Sex, number>; referenceRange: Record<Sex, RangeRow[]> };
  anaemia: { groups: AnaemiaGroup[]; normal: Coding; interpretation: Record<'mild' | 'moderate' | 'severe', Coding>; labels: Record<'mild' | 'moderate' | 'severe', Label> };
  smoking: { key: string; category: string; code: Coding; values: Record<'true' | 'false', Coding> };
  riskFactorQuestionnaire: {
    url: string;
    fromYears: number;
    identifierSystem: string;
    group: { linkId: string; text: string };
    items: Record<'everSmoked' | 'cigarettesPerDay' | 'status', { linkId: string; text: string }> & { smokingYears: { linkId: string; text: string; unit: Unit } };
  };
  composition: { fromYears: number; identifierSystem: string; type: Coding; title: string; sectionSystem: string; sections: Array<{ code: string; title: string; entries: string[] }> };
  referenceRangeMeaning: Coding;
  high: Coding;
  normal: Coding;
}

export const screeningTable = defineMapping<ScreeningTable>('screening.json', (d, fail) => {
  for (const [k, m] of Object.entries(d.measurements ?? {})) checkCoding(m.code, `measurements.${k}.code`, fail);
  for (const [k, c] of Object.entries(d.glucose?.byTest ?? {})) checkCoding(c, `glucose.byTest.${k}`, fail);
  for (const test of ['random', 'fasting', '2h-pp'] as const) {
    checkClasses(d.glucose?.classes?.[test], `glucose.classes.${test}`, fail);
    if (!d.glucose?.referenceRange?.[test]?.length) fail(`glucose.referenceRange.${test}`, 'is required');
  }
  checkClasses(d.hba1c?.classes, 'hba1c.classes', fail);
  d.bmi?.bands?.forEach((b, i) => checkCoding(b.interpretation, `bmi.bands[${i}].interpretation`, fail));
  d.bloodPressure?.classes?.forEach((c, i) => checkCoding(c.interpretation, `bloodPressure.classes[${i}].interpretation`, fail));
  checkCoding(d.bloodPressure?.isolatedSystolic?.interpretation, 'bloodPressure.isolatedSystolic.interpretation', fail);
  checkCoding(d.smoking?.code, 'smoking.code', fail);
  checkCoding(d.composition?.type, 'composition.type', fail);
  checkCoding(d.referenceRangeMeaning, 'referenceRangeMeaning', fail);
  if (!d.anaemia?.groups?.length) fail('anaemia.groups', 'is required');
  checkCoding(d.anaemia?.normal, 'anaemia.normal', fail);
  const keys = new Set([...Object.values(d.measurements ?? {}).map((m) => m.key), d.bloodPressure?.key, d.bmi?.key, d.glucose?.key]);
  d.composition?.sections?.forEach((s, i) =>
    s.entries.forEach((e, j) => {
      if (!keys.has(e)) fail(`composition.sections[${i}].entries[${j}]`, `"${e}" is not the key of a screening Observation`);
    }),
  );
});

function checkClasses(classes: ValueClass[] | undefined, at: string, fail: (at: string, problem: string) => never): void {
  if (!classes?.length) return fail(at, 'is required');
  classes.forEach((c, i) => {
    checkCoding(c.interpretation, `${at}[${i}].interpretation`, fail);
    if (i > 0 && !(c.from > (classes[i - 1]?.from ?? -Infinity))) fail(`${at}[${i}].from`, 'must be above the previous class');
  });
}

export interface Finding {
  key: string;
  label: Label;
  interpretation: Coding;
}

const normalFinding = (): Finding => ({ key: 'normal', label: { id: 'Normal', en: 'Normal' }, interpretation: screeningTable().normal });
const highFinding = (key: string, label: Label): Finding => ({ key, label, interpretation: screeningTable().high });

/** PERHI/ESC class: the higher of the systolic and the diastolic class; isolated systolic apart. */
export function bloodPressureClass(systolic: number, diastolic: number): Finding {
  const bp = screeningTable().bloodPressure;
  const iso = bp.isolatedSystolic;
  if (systolic >= iso.systolicFrom && diastolic < iso.diastolicBelow) return iso;
  const rank = (pick: (c: BpClass) => number | undefined, value: number) => {
    const i = bp.classes.findIndex((c) => pick(c) === undefined || value < (pick(c) as number));
    return i < 0 ? bp.classes.length - 1 : i;
  };
  const cls = bp.classes[Math.max(rank((c) => c.systolicBelow, systolic), rank((c) => c.diastolicBelow, diastolic))];
  return cls as BpClass;
}

/** Indonesian adult BMI class (BMI rounded to one decimal, as the table is written); none under 18. */
export function bmiClass(bmi: number, ageYears: number): Finding | undefined {
  if (ageYears < screeningTable().bmi.adultFromYears) return undefined;
  const v = Math.round(bmi * 10) / 10;
  return screeningTable().bmi.bands.find((b) => (b.below !== undefined ? v < b.below : b.atMost !== undefined ? v <= b.atMost : true));
}

/** Central obesity (true), not (false), or no judgement under the age the cut-offs are for. */
export function centralObesity(waistCm: number, sex: Sex, ageYears: number): boolean | undefined {
  const w = screeningTable().waist;
  if (ageYears < w.fromYears) return undefined;
  return waistCm >= w.centralObesityFrom[sex];
}

export function waistFinding(waistCm: number, sex: Sex, ageYears: number): Finding | undefined {
  const central = centralObesity(waistCm, sex, ageYears);
  if (central === undefined) return undefined;
  return central ? highFinding('high', screeningTable().waist.label) : normalFinding();
}

function classOf(classes: ValueClass[], value: number): Finding {
  const found = [...classes].reverse().find((c) => value >= c.from) ?? classes[0];
  return found as ValueClass;
}

/** Normal, prediabetes or the diabetes range by the test's cut-offs, as the official Skrining PTM Postman collection gives them. */
export function glucoseClass(mgdl: number, test: GlucoseTest): Finding {
  return classOf(screeningTable().glucose.classes[test], mgdl);
}

export function hba1cClass(percent: number): Finding {
  return classOf(screeningTable().hba1c.classes, percent);
}

export function cholesterolFinding(mgdl: number): Finding {
  const c = screeningTable().cholesterol;
  if (mgdl >= c.highFrom) return highFinding('high', { id: 'Kolesterol tinggi', en: 'High cholesterol' });
  if (mgdl >= c.borderlineFrom) return highFinding('borderline', { id: 'Kolesterol sedikit tinggi (borderline)', en: 'Borderline high cholesterol' });
  return normalFinding();
}

export function uricAcidFinding(mgdl: number, sex: Sex): Finding {
  return mgdl > screeningTable().uricAcid.highAbove[sex] ? highFinding('high', { id: 'Asam urat tinggi', en: 'High uric acid' }) : normalFinding();
}

function anaemiaGroup(sex: Sex, ageMonths: number, pregnant: boolean): AnaemiaGroup | undefined {
  return screeningTable().anaemia.groups.find(
    (g) => (g.pregnant ?? false) === pregnant && ageMonths >= g.fromMonths && (g.belowMonths === undefined || ageMonths < g.belowMonths) && (!g.sex || g.sex === sex),
  );
}

/** Anaemia severity by age, sex and pregnancy (WHO 2011 cut-offs, see the data file); none under 6 months. */
export function anaemia(hb: number, sex: Sex, ageMonths: number, pregnant = false): Finding | undefined {
  const a = screeningTable().anaemia;
  const group = anaemiaGroup(sex, ageMonths, pregnant);
  if (!group || hb >= group.mild) return undefined;
  const level = hb < group.severe ? 'severe' : hb < group.moderate ? 'moderate' : 'mild';
  return { key: level, label: a.labels[level], interpretation: a.interpretation[level] };
}

/** Not anaemic (v3 N) or the severity; nothing where no cut-off applies (under 6 months). */
export function hemoglobinFinding(hb: number, sex: Sex, ageMonths: number): Finding | undefined {
  if (!anaemiaGroup(sex, ageMonths, false)) return undefined;
  return anaemia(hb, sex, ageMonths) ?? { ...normalFinding(), interpretation: screeningTable().anaemia.normal };
}

/**
 * The person's anaemia cut-offs as reference ranges, in g/dL to one decimal, as the official PKPR
 * Postman collection lays them out (untyped, as Skrining PTM's).
 */
export function hemoglobinRanges(sex: Sex, ageMonths: number): RangeRow[] | undefined {
  const g = anaemiaGroup(sex, ageMonths, false);
  if (!g) return undefined;
  const below = (v: number) => Math.round((v - 0.1) * 10) / 10;
  const l = screeningTable().anaemia.labels;
  return [
    { low: g.mild, text: 'Normal' },
    { low: g.moderate, high: below(g.mild), text: l.mild.id },
    { low: g.severe, high: below(g.moderate), text: l.moderate.id },
    { high: below(g.severe), text: l.severe.id },
  ];
}
