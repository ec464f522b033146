import type { Coding } from '@medplum/fhirtypes';
import { checkCoding, readMapping } from '../fhir/terminology.js';

// Screening interpretations (hypertension class, BMI class, central obesity, raised glucose,
// cholesterol and uric acid, anaemia). Thresholds and codes are data: mappings/screening.json.

type Label = { id: string; en: string };
interface BmiBand { key: string; below?: number; atMost?: number; label: Label; interpretation: Coding }
interface BpClass { key: string; systolicBelow?: number; diastolicBelow?: number; label: Label; interpretation: Coding }
interface AnaemiaGroup { key: string; fromMonths: number; belowMonths?: number; sex?: 'male' | 'female'; pregnant?: boolean; mild: number; moderate: number; severe: number }

export interface ScreeningTable {
  measurements: Record<string, { key: string; category: string; code: Coding; unit: { unit: string; code: string } }>;
  glucose: { key: string; category: string; unit: { unit: string; code: string }; byTest: Record<'random' | 'fasting' | '2h-pp', Coding>; highFrom: Record<'random' | 'fasting' | '2h-pp', number> };
  bmi: { key: string; category: string; code: Coding; unit: { unit: string; code: string }; adultFromYears: number; bands: BmiBand[] };
  bloodPressure: { key: string; category: string; code: Coding; classes: BpClass[]; isolatedSystolic: { systolicFrom: number; diastolicBelow: number; key: string; label: Label; interpretation: Coding } };
  waist: { fromYears: number; centralObesityAbove: Record<'male' | 'female', number>; label: Label };
  cholesterol: { highFrom: number; borderlineFrom: number };
  uricAcid: { highAbove: Record<'male' | 'female', number> };
  anaemia: { groups: AnaemiaGroup[]; interpretation: Record<'mild' | 'moderate' | 'severe', Coding>; labels: Record<'mild' | 'moderate' | 'severe', Label> };
  smoking: { key: string; category: string; code: Coding; values: Record<'true' | 'false', Coding> };
  high: Coding;
  normal: Coding;
}

export const screeningTable = readMapping<ScreeningTable>('screening.json', (d, fail) => {
  for (const [k, m] of Object.entries(d.measurements ?? {})) checkCoding(m.code, `measurements.${k}.code`, fail);
  for (const [k, c] of Object.entries(d.glucose?.byTest ?? {})) checkCoding(c, `glucose.byTest.${k}`, fail);
  d.bmi?.bands?.forEach((b, i) => checkCoding(b.interpretation, `bmi.bands[${i}].interpretation`, fail));
  d.bloodPressure?.classes?.forEach((c, i) => checkCoding(c.interpretation, `bloodPressure.classes[${i}].interpretation`, fail));
  checkCoding(d.smoking?.code, 'smoking.code', fail);
  if (!d.anaemia?.groups?.length) fail('anaemia.groups', 'is required');
});

export interface Finding {
  key: string;
  label: Label;
  interpretation: Coding;
}

/** PERHI/ESC class: the higher of the systolic and the diastolic class; isolated systolic apart. */
export function bloodPressureClass(systolic: number, diastolic: number): Finding {
  const bp = screeningTable.bloodPressure;
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
  if (ageYears < screeningTable.bmi.adultFromYears) return undefined;
  const v = Math.round(bmi * 10) / 10;
  return screeningTable.bmi.bands.find((b) => (b.below !== undefined ? v < b.below : b.atMost !== undefined ? v <= b.atMost : true));
}

export function centralObesity(waistCm: number, sex: 'male' | 'female', ageYears: number): boolean | undefined {
  const w = screeningTable.waist;
  if (ageYears < w.fromYears) return undefined;
  return waistCm > w.centralObesityAbove[sex];
}

export function glucoseHigh(mgdl: number, test: 'random' | 'fasting' | '2h-pp'): boolean {
  return mgdl >= screeningTable.glucose.highFrom[test];
}

export function cholesterolHigh(mgdl: number): boolean {
  return mgdl >= screeningTable.cholesterol.borderlineFrom;
}

export function uricAcidHigh(mgdl: number, sex: 'male' | 'female'): boolean {
  return mgdl > screeningTable.uricAcid.highAbove[sex];
}

/** Anaemia severity by age, sex and pregnancy (WHO 2011 cut-offs, see the data file); none under 6 months. */
export function anaemia(hb: number, sex: 'male' | 'female', ageMonths: number, pregnant = false): Finding | undefined {
  const a = screeningTable.anaemia;
  const group = a.groups.find(
    (g) => (g.pregnant ?? false) === pregnant && ageMonths >= g.fromMonths && (g.belowMonths === undefined || ageMonths < g.belowMonths) && (!g.sex || g.sex === sex),
  );
  if (!group || hb >= group.mild) return undefined;
  const level = hb < group.severe ? 'severe' : hb < group.moderate ? 'moderate' : 'mild';
  return { key: level, label: a.labels[level], interpretation: a.interpretation[level] };
}
