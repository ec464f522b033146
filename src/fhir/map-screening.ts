import type { CodeableConcept, Coding, Composition, CompositionSection, Observation, ObservationReferenceRange, QuestionnaireResponse, QuestionnaireResponseItem, Reference } from '@medplum/fhirtypes';
import {
  bloodPressureClass,
  bmiClass,
  cholesterolFinding,
  glucoseClass,
  hba1cClass,
  hemoglobinFinding,
  hemoglobinRanges,
  screeningTable,
  uricAcidFinding,
  waistFinding,
  type Finding,
  type RangeRow,
} from '../indicators/screening-risk.js';
import type { ScreeningRecord } from '../records/schemas/screening.js';
import { localDate } from '../records/time.js';
import { completedMonths } from '../indicators/calendar-age.js';
import type { TransactionBuilder } from './bundle-builder.js';
import { observationBase } from './observation-base.js';
import type { EnvelopeRefs, RecordContext } from './map-envelope.js';
import { fhirCommon } from './terminology.js';

export interface ScreeningSummary {
  findings: Array<{ measure: string; key: string; label: { id: string; en: string } }>;
  bmi?: number;
}

type Unit = { unit: string; code: string };
type QuantityField = 'systolic' | 'diastolic' | 'weightKg' | 'heightCm' | 'waistCm' | 'cholesterolMgdl' | 'uricAcidMgdl' | 'hemoglobinGdl' | 'hba1cPercent';

/**
 * The Skrining PTM of the official Postman collection: one Observation per measured value (blood pressure as two plus the
 * hypertension class with the pair as a ratio), each with its interpretation and reference range;
 * the smoking status with the Q0013 risk-factor questionnaire; and the "Form Skrining PTM"
 * Composition whose sections refer to the results the record has.
 */
export function mapScreening(ctx: RecordContext, refs: EnvelopeRefs, b: TransactionBuilder): { screening: ScreeningSummary } {
  const r = ctx.record as ScreeningRecord;
  const t = screeningTable();
  const sex = r.subject.sex;
  const ageMonths = completedMonths(r.subject.birthDate, localDate(r.occurredAt));
  const ageYears = Math.floor(ageMonths / 12);
  const summary: ScreeningSummary = { findings: [] };
  const flag = (measure: string, f: Finding | undefined, always = false) => {
    if (f && (always || f.key !== 'normal')) summary.findings.push({ measure, key: f.key, label: f.label });
  };
  // Observation key → its reference, for derivedFrom and the Composition's sections
  const results = new Map<string, Reference<Observation>>();

  const observe = (key: string, category: string, code: Coding, value: Partial<Observation>, finding?: Finding, ranges?: ObservationReferenceRange[]) => {
    const ref = b.upsert(key, {
      ...observationBase(ctx, refs, key, category),
      code: { coding: [code] },
      ...value,
      ...interpreted(finding),
      ...(ranges?.length ? { referenceRange: ranges } : {}),
    });
    results.set(key, ref);
    return ref;
  };
  const quantity = (field: QuantityField, finding?: Finding, rows?: RangeRow[]) => {
    const value = r[field];
    const m = t.measurements[field];
    if (value === undefined || !m) return undefined;
    return observe(m.key, m.category, m.code, { valueQuantity: ucum(value, m.unit) }, finding, rows && referenceRange(rows, m.unit));
  };
  const derivedFrom = (...keys: string[]) => keys.map((k) => results.get(k)).filter((x): x is Reference<Observation> => x !== undefined);

  quantity('systolic');
  quantity('diastolic');
  if (r.systolic !== undefined && r.diastolic !== undefined) {
    const bp = t.bloodPressure;
    const cls = bloodPressureClass(r.systolic, r.diastolic);
    flag('bloodPressure', cls, true);
    observe(
      bp.key,
      bp.category,
      bp.code,
      {
        valueRatio: { numerator: ucum(r.systolic, bp.ratioUnit), denominator: ucum(r.diastolic, bp.ratioUnit) },
        derivedFrom: derivedFrom(t.measurements.systolic!.key, t.measurements.diastolic!.key),
      },
      cls,
      bp.referenceRange.map((text) => ({ text })),
    );
  }

  quantity('weightKg');
  quantity('heightCm');
  if (r.weightKg !== undefined && r.heightCm !== undefined) {
    const bmi = Math.round((r.weightKg / (r.heightCm / 100) ** 2) * 10) / 10;
    summary.bmi = bmi;
    const cls = bmiClass(bmi, ageYears);
    flag('bmi', cls, true);
    // The adult cut-offs are the reference only where they apply (from 18 years).
    const ranges = cls ? referenceRange(t.bmi.referenceRange, t.bmi.unit) : undefined;
    observe(t.bmi.key, t.bmi.category, t.bmi.code, { valueQuantity: ucum(bmi, t.bmi.unit), derivedFrom: derivedFrom(t.measurements.heightCm!.key, t.measurements.weightKg!.key) }, cls, ranges);
  }

  if (r.waistCm !== undefined) {
    const finding = waistFinding(r.waistCm, sex, ageYears);
    flag('waist', finding);
    quantity('waistCm', finding, finding && t.waist.referenceRange[sex]);
  }

  if (r.glucoseMgdl !== undefined && r.glucoseTest !== undefined) {
    const g = t.glucose;
    const cls = glucoseClass(r.glucoseMgdl, r.glucoseTest);
    flag('glucose', cls);
    observe(g.key, g.category, g.byTest[r.glucoseTest], { valueQuantity: ucum(r.glucoseMgdl, g.unit) }, cls, referenceRange(g.referenceRange[r.glucoseTest], g.unit));
  }
  if (r.hba1cPercent !== undefined) {
    const cls = hba1cClass(r.hba1cPercent);
    flag('hba1c', cls);
    quantity('hba1cPercent', cls, t.hba1c.referenceRange);
  }

  if (r.cholesterolMgdl !== undefined) {
    const finding = cholesterolFinding(r.cholesterolMgdl);
    flag('cholesterol', finding);
    quantity('cholesterolMgdl', finding, t.cholesterol.referenceRange);
  }
  if (r.uricAcidMgdl !== undefined) {
    const finding = uricAcidFinding(r.uricAcidMgdl, sex);
    flag('uricAcid', finding);
    quantity('uricAcidMgdl', finding, t.uricAcid.referenceRange[sex]);
  }
  if (r.hemoglobinGdl !== undefined) {
    const finding = hemoglobinFinding(r.hemoglobinGdl, sex, ageMonths);
    flag('hemoglobin', finding);
    quantity('hemoglobinGdl', finding, hemoglobinRanges(sex, ageMonths));
  }

  if (r.smoker !== undefined) {
    const s = t.smoking;
    const status = observe(s.key, s.category, s.code, { valueCodeableConcept: { coding: [s.values[r.smoker ? 'true' : 'false']] } });
    if (ageYears >= t.riskFactorQuestionnaire.fromYears) riskFactors(ctx, refs, b, r, status);
  }

  if (ageYears >= t.composition.fromYears) composition(ctx, refs, b, results);
  return { screening: summary };
}

/** Q0013 as the official Skrining PTM Postman collection asks it, with the answers the record has; item 1.4 is the status Observation. */
function riskFactors(ctx: RecordContext, refs: EnvelopeRefs, b: TransactionBuilder, r: ScreeningRecord, status: Reference<Observation>): void {
  const q = screeningTable().riskFactorQuestionnaire;
  const answers: QuestionnaireResponseItem[] = [];
  const answer = (item: { linkId: string; text: string }, value: NonNullable<QuestionnaireResponseItem['answer']>[number]) =>
    answers.push({ linkId: item.linkId, text: item.text, answer: [value] });
  // "Has the participant ever smoked?": yes for one who smokes now; a non-smoker may have smoked
  // before, which the record does not say, so the question stays unanswered.
  if (r.smoker) answer(q.items.everSmoked, { valueBoolean: true });
  if (r.cigarettesPerDay !== undefined) answer(q.items.cigarettesPerDay, { valueInteger: r.cigarettesPerDay });
  if (r.smokingYears !== undefined) answer(q.items.smokingYears, { valueQuantity: ucum(r.smokingYears, q.items.smokingYears.unit) });
  answer(q.items.status, { valueReference: status });
  const author = refs.practitioner ?? refs.organization;
  b.upsert<QuestionnaireResponse>('risk-factors', {
    resourceType: 'QuestionnaireResponse',
    identifier: { system: q.identifierSystem.replace('{orgId}', ctx.puskesmas.organizationId), value: `${ctx.key}.risk-factors` },
    questionnaire: q.url,
    status: 'completed',
    subject: refs.patient,
    encounter: refs.encounter,
    authored: refs.effective,
    author,
    source: refs.patient,
    item: [{ linkId: q.group.linkId, text: q.group.text, item: answers }],
  });
}

/** The "Form Skrining PTM" Composition of the official collection: a section for each group of results the record has. */
function composition(ctx: RecordContext, refs: EnvelopeRefs, b: TransactionBuilder, results: ReadonlyMap<string, Reference<Observation>>): void {
  const c = screeningTable().composition;
  const section: CompositionSection[] = c.sections.flatMap((s) => {
    const entry = s.entries.map((k) => results.get(k)).filter((x): x is Reference<Observation> => x !== undefined);
    if (entry.length === 0) return [];
    const code: CodeableConcept = { coding: [{ system: c.sectionSystem, code: s.code, display: s.title }] };
    return [{ title: s.title, code, entry }];
  });
  if (section.length === 0) return;
  b.upsert<Composition>('form-skrining-ptm', {
    resourceType: 'Composition',
    identifier: { system: c.identifierSystem.replace('{orgId}', ctx.puskesmas.organizationId), value: `${ctx.key}.form-skrining-ptm` },
    status: 'final',
    type: { coding: [c.type] },
    subject: refs.patient,
    encounter: refs.encounter,
    date: refs.effective,
    author: [refs.practitioner ?? refs.organization],
    title: c.title,
    attester: [{ mode: 'legal' }],
    section,
  });
}

function ucum(value: number, unit: Unit) {
  return { value, unit: unit.unit, system: fhirCommon().ucum, code: unit.code };
}

function referenceRange(rows: RangeRow[], unit: Unit): ObservationReferenceRange[] {
  return rows.map((row) => ({
    ...(row.low !== undefined ? { low: ucum(row.low, unit) } : {}),
    ...(row.high !== undefined ? { high: ucum(row.high, unit) } : {}),
    ...(row.normal ? { type: { coding: [screeningTable().referenceRangeMeaning] } } : {}),
    text: row.text,
  }));
}

function interpreted(f: Finding | undefined): { interpretation?: Array<{ coding: Coding[]; text: string }> } {
  return f ? { interpretation: [{ coding: [f.interpretation], text: f.label.id }] } : {};
}
