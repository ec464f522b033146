import type { Coding, Observation, Reference } from '@medplum/fhirtypes';
import {
  anaemia,
  bloodPressureClass,
  bmiClass,
  centralObesity,
  cholesterolHigh,
  glucoseHigh,
  screeningTable,
  uricAcidHigh,
  type Finding,
} from '../indicators/screening-risk.js';
import type { ScreeningRecord } from '../records/schemas/screening.js';
import { completedMonths, localDate } from '../records/time.js';
import type { TransactionBuilder } from './bundle-builder.js';
import { observationBase } from './observation-base.js';
import type { EnvelopeRefs, RecordContext } from './map-envelope.js';
import { fhirCommon } from './terminology.js';

export interface ScreeningSummary {
  findings: Array<{ measure: string; key: string; label: { id: string; en: string } }>;
  bmi?: number;
}

type Field = 'systolic' | 'diastolic' | 'weightKg' | 'heightCm' | 'waistCm' | 'cholesterolMgdl' | 'uricAcidMgdl' | 'hemoglobinGdl';

/**
 * One Observation per measured parameter (blood pressure as two), each interpreted against the
 * thresholds in mappings/screening.json, plus the derived ones: hypertension risk level and BMI.
 */
export function mapScreening(ctx: RecordContext, refs: EnvelopeRefs, b: TransactionBuilder): { screening: ScreeningSummary } {
  const r = ctx.record as ScreeningRecord;
  const t = screeningTable;
  const sex = r.subject.sex;
  const ageMonths = completedMonths(r.subject.birthDate, localDate(r.occurredAt));
  const ageYears = Math.floor(ageMonths / 12);
  const summary: ScreeningSummary = { findings: [] };
  const flag = (measure: string, f: Finding) => summary.findings.push({ measure, key: f.key, label: f.label });
  const high = (label: { id: string; en: string }): Finding => ({ key: 'high', label, interpretation: t.high });

  const measured: Partial<Record<Field, Reference<Observation>>> = {};
  const quantity = (field: Field, interpretation?: Finding) => {
    const value = r[field];
    if (value === undefined) return;
    const m = t.measurements[field];
    if (!m) return;
    measured[field] = b.upsert(m.key, {
      ...observationBase(ctx, refs, m.key, m.category),
      code: { coding: [m.code] },
      valueQuantity: { value, unit: m.unit.unit, system: fhirCommon.ucum, code: m.unit.code },
      ...interpreted(interpretation),
    });
  };

  quantity('systolic');
  quantity('diastolic');
  if (r.systolic !== undefined && r.diastolic !== undefined) {
    const cls = bloodPressureClass(r.systolic, r.diastolic);
    flag('bloodPressure', cls);
    b.upsert(t.bloodPressure.key, {
      ...observationBase(ctx, refs, t.bloodPressure.key, t.bloodPressure.category),
      code: { coding: [t.bloodPressure.code] },
      ...interpreted(cls),
      derivedFrom: [measured.systolic, measured.diastolic].filter((x): x is Reference<Observation> => x !== undefined),
    });
  }

  quantity('weightKg');
  quantity('heightCm');
  if (r.weightKg !== undefined && r.heightCm !== undefined) {
    const bmi = Math.round((r.weightKg / (r.heightCm / 100) ** 2) * 10) / 10;
    summary.bmi = bmi;
    const cls = bmiClass(bmi, ageYears);
    if (cls) flag('bmi', cls);
    b.upsert(t.bmi.key, {
      ...observationBase(ctx, refs, t.bmi.key, t.bmi.category),
      code: { coding: [t.bmi.code] },
      valueQuantity: { value: bmi, unit: t.bmi.unit.unit, system: fhirCommon.ucum, code: t.bmi.unit.code },
      ...interpreted(cls),
      derivedFrom: [measured.weightKg, measured.heightCm].filter((x): x is Reference<Observation> => x !== undefined),
    });
  }

  const central = r.waistCm !== undefined ? centralObesity(r.waistCm, sex, ageYears) : undefined;
  if (central) flag('waist', high(t.waist.label));
  quantity('waistCm', central === undefined ? undefined : central ? high(t.waist.label) : normal());

  if (r.glucoseMgdl !== undefined && r.glucoseTest !== undefined) {
    const g = t.glucose;
    const isHigh = glucoseHigh(r.glucoseMgdl, r.glucoseTest);
    const finding = isHigh ? high({ id: 'Gula darah tinggi', en: 'High blood glucose' }) : normal();
    if (isHigh) flag('glucose', finding);
    b.upsert(g.key, {
      ...observationBase(ctx, refs, g.key, g.category),
      code: { coding: [g.byTest[r.glucoseTest]] },
      valueQuantity: { value: r.glucoseMgdl, unit: g.unit.unit, system: fhirCommon.ucum, code: g.unit.code },
      ...interpreted(finding),
    });
  }

  const chol = r.cholesterolMgdl !== undefined ? cholesterolHigh(r.cholesterolMgdl) : undefined;
  if (chol) flag('cholesterol', high({ id: 'Kolesterol tinggi', en: 'High cholesterol' }));
  quantity('cholesterolMgdl', chol === undefined ? undefined : chol ? high({ id: 'Kolesterol tinggi', en: 'High cholesterol' }) : normal());

  const uric = r.uricAcidMgdl !== undefined ? uricAcidHigh(r.uricAcidMgdl, sex) : undefined;
  if (uric) flag('uricAcid', high({ id: 'Asam urat tinggi', en: 'High uric acid' }));
  quantity('uricAcidMgdl', uric === undefined ? undefined : uric ? high({ id: 'Asam urat tinggi', en: 'High uric acid' }) : normal());

  const anaemic = r.hemoglobinGdl !== undefined ? anaemia(r.hemoglobinGdl, sex, ageMonths) : undefined;
  if (anaemic) flag('hemoglobin', anaemic);
  quantity('hemoglobinGdl', anaemic);

  if (r.smoker !== undefined) {
    const s = t.smoking;
    b.upsert(s.key, {
      ...observationBase(ctx, refs, s.key, s.category),
      code: { coding: [s.code] },
      valueCodeableConcept: { coding: [s.values[r.smoker ? 'true' : 'false']] },
    });
  }
  return { screening: summary };
}

function normal(): Finding {
  return { key: 'normal', label: { id: 'Normal', en: 'Normal' }, interpretation: screeningTable.normal };
}

function interpreted(f: Finding | undefined): { interpretation?: Array<{ coding: Coding[]; text: string }> } {
  return f ? { interpretation: [{ coding: [f.interpretation], text: f.label.id }] } : {};
}
