import { createHash } from 'node:crypto';
import type { Coding, EpisodeOfCare, Medication, MedicationDispense, Observation, Reference } from '@medplum/fhirtypes';
import { anaemia } from '../indicators/screening-risk.js';
import type { AncVisitRecord } from '../records/schemas/anc-visit.js';
import { localDate } from '../records/time.js';
import { completedMonths, daysBetween } from '../indicators/calendar-age.js';
import type { TransactionBuilder } from './bundle-builder.js';
import { observationBase } from './observation-base.js';
import { visitPeriod } from './visit-time.js';
import { fhirDateTime, type EncounterContext, type EnvelopeRefs, type RecordContext } from './map-envelope.js';
import { fhirCommon, identifierSystem } from './terminology.js';
import { checkCoding } from '../tables/read-table.js';
import { defineMapping } from '../tables/registry.js';

interface Measure { key: string; category: string; code: Coding; ancCode: Coding; unit: { unit: string; code: string } }
interface Coded { key: string; code: Coding; ancCode: Coding }
interface IronTable {
  key: string;
  medication: {
    code: Coding;
    form: Coding;
    ingredients: Array<{ item: Coding; mg: number }>;
    type: { url: string; coding: Coding };
    profile: string;
    text: string;
  };
  unit: { unit: string; system: string; code: string };
  category: Coding;
  identifierSystems: Record<'medication' | 'prescription' | 'prescriptionItem', string>;
}
interface AncTable {
  episodeOfCare: { type: Coding; kVisitSystem: string; k1Value: string };
  measurements: Record<string, Measure>;
  obstetric: Record<'gravida' | 'para' | 'abortus' | 'lmp' | 'edd', Coded> & { eddDaysAfterLmp: number };
  trimester: Coded & { category: string; upToWeeks: [number, number] };
  fetalPresentation: Coded & { values: Record<'cephalic' | 'breech' | 'transverse', Coding> };
  urineProtein: Coded & { category: string; unit: { unit: string; code: string }; mgPerDl: Record<'negative' | '+1' | '+2' | '+3', number> };
  iron: IronTable;
  risk: {
    muac: { kekBelow: number; riskBelow: number; kek: Coding; risk: Coding };
    hypertension: { systolicFrom: number; diastolicFrom: number; severeSystolicFrom: number; severeDiastolicFrom: number };
    ageBelowYears: number;
    ageAboveYears: number;
    heightBelowCm: number;
    parityFrom: number;
    intervalBelowMonths: number;
    summary: { code: Coding };
  };
}

const ancTable = defineMapping<AncTable>('anc.json', (d, fail) => {
  checkCoding(d.episodeOfCare?.type, 'episodeOfCare.type', fail);
  if (typeof d.episodeOfCare?.k1Value !== 'string') fail('episodeOfCare.k1Value', 'must be the K-visit value of a first visit');
  for (const [k, m] of Object.entries(d.measurements ?? {})) {
    checkCoding(m.code, `measurements.${k}.code`, fail);
    checkCoding(m.ancCode, `measurements.${k}.ancCode`, fail);
  }
  for (const k of ['gravida', 'para', 'abortus', 'lmp', 'edd'] as const) {
    checkCoding(d.obstetric?.[k]?.code, `obstetric.${k}.code`, fail);
    checkCoding(d.obstetric?.[k]?.ancCode, `obstetric.${k}.ancCode`, fail);
  }
  for (const k of ['trimester', 'fetalPresentation', 'urineProtein'] as const) {
    checkCoding(d[k]?.code, `${k}.code`, fail);
    checkCoding(d[k]?.ancCode, `${k}.ancCode`, fail);
  }
  const bounds = d.trimester?.upToWeeks;
  if (!Array.isArray(bounds) || bounds.length !== 2 || !(bounds[0] < bounds[1])) fail('trimester.upToWeeks', 'must be two increasing week counts');
  for (const [k, c] of Object.entries(d.fetalPresentation?.values ?? {})) checkCoding(c, `fetalPresentation.values.${k}`, fail);
  for (const g of ['negative', '+1', '+2', '+3'] as const) {
    if (typeof d.urineProtein?.mgPerDl?.[g] !== 'number') fail(`urineProtein.mgPerDl.${g}`, 'must be a number (mg/dL)');
  }
  const med = d.iron?.medication;
  checkCoding(med?.code, 'iron.medication.code', fail);
  checkCoding(med?.form, 'iron.medication.form', fail);
  checkCoding(med?.type?.coding, 'iron.medication.type.coding', fail);
  (med?.ingredients ?? []).forEach((g, i) => checkCoding(g.item, `iron.medication.ingredients[${i}].item`, fail));
  checkCoding(d.iron?.unit, 'iron.unit', fail);
  checkCoding(d.iron?.category, 'iron.category', fail);
  for (const k of ['medication', 'prescription', 'prescriptionItem'] as const) {
    if (!/^http:\/\/sys-ids\.kemkes\.go\.id\/[a-z-]+\/\{orgId\}$/.test(d.iron?.identifierSystems?.[k] ?? '')) fail(`iron.identifierSystems.${k}`, 'must be a sys-ids system ending in {orgId}');
  }
});

const HIGH: Coding = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: 'H', display: 'High' };
const NORMAL: Coding = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: 'N', display: 'Normal' };

export interface AncSummary {
  gestationalAgeWeeks: number;
  gestationalAgeDerived: boolean;
  visit?: string;
  findings: Array<{ measure: string; key: string; label: { id: string; en: string } }>;
  /** high risk when any criterion holds; the reasons are the findings */
  highRisk: boolean;
}

/** The pregnancy's key: the same for every visit of it, whichever app records the visit. */
function pregnancyKey(r: AncVisitRecord): string {
  const who = r.subject.nik ?? `${r.subject.mother?.nik ?? ''}.${r.subject.birthDate}`;
  return `anc-${createHash('sha256').update(`${who}|${r.pregnancy.lmp}`).digest('hex').slice(0, 24)}`;
}

function gestationalAge(r: AncVisitRecord): { weeks: number; derived: boolean } {
  if (r.gestationalAgeWeeks !== undefined) return { weeks: r.gestationalAgeWeeks, derived: false };
  return { weeks: Math.floor(daysBetween(r.pregnancy.lmp, localDate(r.occurredAt)) / 7), derived: true };
}

/** The official ANC Postman collection sends K1A for a first visit in trimester 1: every K1 is K1A (anc.json _notes). */
function kVisit(r: AncVisitRecord): string | undefined {
  if (!r.visitNumber) return undefined;
  return r.visitNumber === 'K1' ? ancTable().episodeOfCare.k1Value : r.visitNumber;
}

function trimester(weeks: number): number {
  const [first, second] = ancTable().trimester.upToWeeks;
  return weeks <= first ? 1 : weeks <= second ? 2 : 3;
}

/**
 * The pregnancy's EpisodeOfCare (created once) and the K-visit identifier of the Encounter. It
 * starts with the visit that opens it (as in the official ANC Postman collection): it is a conditional create, never overwritten,
 * so the start is the earliest visit of the pregnancy Gerbang delivered.
 */
export const ancEncounter: EncounterContext = (ctx, refs, b) => {
  const r = ctx.record as AncVisitRecord;
  // as in the ANC collection: the episode starts when the visit that opens it does
  const start = visitPeriod(r, ctx).start;
  const episode: EpisodeOfCare = {
    resourceType: 'EpisodeOfCare',
    identifier: [{ system: identifierSystem('episodeOfCare', ctx.puskesmas.organizationId), value: pregnancyKey(r) }],
    status: 'active',
    statusHistory: [{ status: 'active', period: { start } }],
    type: [{ coding: [ancTable().episodeOfCare.type] }],
    patient: refs.patient,
    managingOrganization: refs.organization,
    period: { start },
  };
  const episodeOfCare = b.createIfMissing('episode-of-care', episode, episode.identifier?.[0] ?? {});
  const k = kVisit(r);
  return { episodeOfCare, ...(k ? { identifiers: [{ system: ancTable().episodeOfCare.kVisitSystem, value: k }] } : {}) };
};

/** One Observation per measurement and obstetric fact; iron tablets as a MedicationDispense. */
export function mapAncVisit(ctx: RecordContext, refs: EnvelopeRefs, b: TransactionBuilder): { anc: AncSummary } {
  const r = ctx.record as AncVisitRecord;
  const t = ancTable();
  const ga = gestationalAge(r);
  const k = kVisit(r);
  const summary: AncSummary = { gestationalAgeWeeks: ga.weeks, gestationalAgeDerived: ga.derived, ...(k ? { visit: k } : {}), findings: [], highRisk: false };
  const riskSources: Array<Reference<Observation>> = [];
  // Every ANC Observation is coded twice, as the official ANC Postman collection does:
  // LOINC/SNOMED/clinical-term and the anc-custom-codes.
  const obs = (key: string, category: string, coded: { code: Coding; ancCode?: Coding }, value: Partial<Observation>): Reference<Observation> =>
    b.upsert(key, { ...observationBase(ctx, refs, key, category), code: { coding: [coded.code, ...(coded.ancCode ? [coded.ancCode] : [])] }, ...value });
  const quantity = (field: string, value: number | undefined, interpretation?: { coding: Coding; text: string }) => {
    const m = t.measurements[field];
    if (value === undefined || !m) return undefined;
    return obs(m.key, m.category, m, {
      valueQuantity: { value, unit: m.unit.unit, system: fhirCommon().ucum, code: m.unit.code },
      ...(interpretation ? { interpretation: [{ coding: [interpretation.coding], text: interpretation.text }] } : {}),
    });
  };
  const finding = (measure: string, key: string, id: string, en: string) => summary.findings.push({ measure, key, label: { id, en } });
  const risky = (ref: Reference<Observation> | undefined) => ref && riskSources.push(ref);

  // Obstetric status
  const o = t.obstetric;
  for (const f of ['gravida', 'para', 'abortus'] as const) {
    const v = r.pregnancy[f];
    if (v === undefined) continue;
    const ref = obs(o[f].key, 'survey', o[f], { valueInteger: v });
    if (f === 'para' && v >= t.risk.parityFrom) {
      finding('para', 'parity', `Sudah ${v} kali melahirkan (≥ ${t.risk.parityFrom})`, `Parity ${v} (≥ ${t.risk.parityFrom})`);
      riskSources.push(ref);
    }
  }
  // Rule 10429: HPHT and HPL are full date-times (fhirDateTime decides the time of a bare date).
  obs(o.lmp.key, 'survey', o.lmp, { valueDateTime: fhirDateTime(r.pregnancy.lmp, ctx) });
  const edd = r.pregnancy.edd ?? addDays(r.pregnancy.lmp, o.eddDaysAfterLmp);
  obs(o.edd.key, 'survey', o.edd, { valueDateTime: fhirDateTime(edd, ctx) });
  quantity('gestationalAgeWeeks', ga.weeks);
  obs(t.trimester.key, t.trimester.category, t.trimester, { valueInteger: trimester(ga.weeks) });

  // Measurements. The ANC collection interprets LiLA only; hypertension and short stature are findings of the
  // risk summary, which is derived from those Observations.
  quantity('weightKg', r.weightKg);
  const height = quantity('heightCm', r.heightCm);
  if (r.heightCm !== undefined && r.heightCm < t.risk.heightBelowCm) {
    finding('height', 'short-stature', `Tinggi badan < ${t.risk.heightBelowCm} cm`, `Height < ${t.risk.heightBelowCm} cm`);
    risky(height);
  }
  const visitDate = localDate(r.occurredAt);
  const ageYears = Math.floor(completedMonths(r.subject.birthDate, visitDate) / 12);
  if (ageYears < t.risk.ageBelowYears) finding('age', 'too-young', `Umur ibu ${ageYears} tahun (< ${t.risk.ageBelowYears})`, `Mother aged ${ageYears} (< ${t.risk.ageBelowYears})`);
  if (ageYears > t.risk.ageAboveYears) finding('age', 'too-old', `Umur ibu ${ageYears} tahun (> ${t.risk.ageAboveYears})`, `Mother aged ${ageYears} (> ${t.risk.ageAboveYears})`);
  if (r.pregnancy.lastDeliveryDate !== undefined) {
    const gap = completedMonths(r.pregnancy.lastDeliveryDate, r.pregnancy.lmp);
    const ref = quantity('pregnancyIntervalMonths', gap);
    if (gap < t.risk.intervalBelowMonths) {
      finding('interval', 'short-interval', `Jarak kehamilan ${gap} bulan (< 2 tahun)`, `Interval of ${gap} months (< 2 years)`);
      risky(ref);
    }
  }
  const muacRisk = t.risk.muac;
  if (r.muacCm !== undefined) {
    const kek = r.muacCm < muacRisk.kekBelow;
    const risk = !kek && r.muacCm < muacRisk.riskBelow;
    if (kek) finding('muac', 'kek', 'Kurang energi kronis (KEK)', 'Chronic energy deficiency (KEK)');
    if (risk) finding('muac', 'kek-risk', 'Risiko KEK', 'Risk of KEK');
    const ref = quantity('muacCm', r.muacCm, kek ? { coding: muacRisk.kek, text: 'KEK' } : risk ? { coding: muacRisk.risk, text: 'Risiko KEK' } : { coding: NORMAL, text: 'Normal' });
    if (kek || risk) risky(ref);
  }
  if (r.systolic !== undefined && r.diastolic !== undefined) {
    const h = t.risk.hypertension;
    const severe = r.systolic >= h.severeSystolicFrom || r.diastolic >= h.severeDiastolicFrom;
    const high = severe || r.systolic >= h.systolicFrom || r.diastolic >= h.diastolicFrom;
    if (severe) finding('bloodPressure', 'severe-hypertension', 'Hipertensi berat', 'Severe hypertension');
    else if (high) finding('bloodPressure', 'hypertension', 'Hipertensi', 'Hypertension');
    const pressures = [quantity('systolic', r.systolic), quantity('diastolic', r.diastolic)];
    if (high) pressures.forEach(risky);
  }
  quantity('fundalHeightCm', r.fundalHeightCm);
  quantity('fetalHeartRate', r.fetalHeartRate);
  if (r.fetalPresentation) {
    const p = t.fetalPresentation;
    obs(p.key, 'exam', p, { valueCodeableConcept: { coding: [p.values[r.fetalPresentation]] } });
  }
  if (r.hemoglobinGdl !== undefined) {
    const ageMonths = completedMonths(r.subject.birthDate, localDate(r.occurredAt));
    const a = anaemia(r.hemoglobinGdl, 'female', ageMonths, true);
    if (a) finding('hemoglobin', `anaemia-${a.key}`, a.label.id, a.label.en);
    const ref = quantity('hemoglobinGdl', r.hemoglobinGdl, a ? { coding: a.interpretation, text: a.label.id } : { coding: NORMAL, text: 'Normal' });
    if (a) risky(ref);
  }
  const proteinuria = r.urineProtein !== undefined && r.urineProtein !== 'negative';
  const hypertensive = summary.findings.some((f) => f.measure === 'bloodPressure');
  if (proteinuria && hypertensive && ga.weeks >= 20) {
    finding('preeclampsia', 'preeclampsia-suspected', 'Curiga preeklampsia (hipertensi dan protein urin)', 'Suspected pre-eclampsia (hypertension and proteinuria)');
  }
  if (r.urineProtein) {
    // The official ANC Postman collection sends a quantity in mg/dL; the record has the dipstick grade, kept beside it in words.
    const u = t.urineProtein;
    const mg = u.mgPerDl[r.urineProtein];
    const ref = obs(u.key, u.category, u, {
      valueQuantity: { value: mg, unit: u.unit.unit, system: fhirCommon().ucum, code: u.unit.code },
      note: [{ text: `Dipstik ${r.urineProtein === 'negative' ? 'negatif' : r.urineProtein} (≈ ${mg} mg/dL)` }],
      ...(proteinuria ? { interpretation: [{ coding: [HIGH], text: `Protein urin ${r.urineProtein}` }] } : {}),
    });
    if (proteinuria && hypertensive) risky(ref);
  }
  summary.highRisk = summary.findings.length > 0;
  // No example and no anc-custom-code for Gerbang's own summary: it has its one coding.
  obs('risk-summary', 'survey', { code: t.risk.summary.code }, {
    valueBoolean: summary.highRisk,
    ...(summary.highRisk
      ? { interpretation: [{ coding: [HIGH], text: 'Risiko tinggi' }], note: summary.findings.map((f) => ({ text: f.label.id })) }
      : {}),
    ...(riskSources.length > 0 ? { derivedFrom: riskSources } : {}),
  });
  if (r.ironTablets !== undefined && r.ironTablets > 0) mapIronTablets(ctx, refs, b, r.ironTablets);
  return { anc: summary };
}

/**
 * Iron tablets as the official ANC Postman collection sends them: a MedicationDispense of a
 * Medication carrying the KFA product (rule 10138), under the prescription identifiers (10389),
 * counted in TAB (10050). The visit is the prescription; its one item is the tablets.
 */
function mapIronTablets(ctx: RecordContext, refs: EnvelopeRefs, b: TransactionBuilder, tablets: number): void {
  const i = ancTable().iron;
  const orgId = ctx.puskesmas.organizationId;
  const system = (k: keyof IronTable['identifierSystems']) => i.identifierSystems[k].replace('{orgId}', orgId);
  const tab = (value: number) => ({ value, unit: i.unit.unit, system: i.unit.system, code: i.unit.code });
  const m = i.medication;
  const medication: Medication = {
    resourceType: 'Medication',
    meta: { profile: [m.profile] },
    identifier: [{ system: system('medication'), use: 'official', value: `${ctx.key}.${i.key}` }],
    code: { coding: [m.code], text: m.text },
    status: 'active',
    form: { coding: [m.form] },
    ingredient: m.ingredients.map((g) => ({
      itemCodeableConcept: { coding: [g.item] },
      isActive: true,
      strength: { numerator: { value: g.mg, system: fhirCommon().ucum, code: 'mg' }, denominator: tab(1) },
    })),
    extension: [{ url: m.type.url, valueCodeableConcept: { coding: [m.type.coding] } }],
  };
  const medicationRef = b.upsert(`${i.key}.medication`, medication);
  const dispense: MedicationDispense = {
    resourceType: 'MedicationDispense',
    identifier: [
      { system: system('prescription'), use: 'official', value: ctx.key },
      { system: system('prescriptionItem'), use: 'official', value: `${ctx.key}.${i.key}` },
    ],
    status: 'completed',
    category: { coding: [i.category] },
    medicationReference: { ...medicationRef, display: m.code.display ?? m.text },
    subject: refs.patient,
    context: refs.encounter,
    ...(refs.practitioner ? { performer: [{ actor: refs.practitioner }] } : {}),
    location: refs.location,
    quantity: tab(tablets),
    whenHandedOver: refs.effective,
  };
  b.upsert(i.key, dispense);
}

function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}
