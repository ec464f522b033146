import { createHash } from 'node:crypto';
import type { Coding, EpisodeOfCare, MedicationDispense, Observation, Reference } from '@medplum/fhirtypes';
import { anaemia } from '../indicators/screening-risk.js';
import type { AncVisitRecord } from '../records/schemas/anc-visit.js';
import { completedMonths, daysBetween, localDate } from '../records/time.js';
import type { TransactionBuilder } from './bundle-builder.js';
import { observationBase } from './observation-base.js';
import type { EncounterContext, EnvelopeRefs, RecordContext } from './map-envelope.js';
import { checkCoding, fhirCommon, identifierSystem, readMapping } from './terminology.js';

interface Measure { key: string; category: string; code: Coding; unit: { unit: string; code: string } }
interface AncTable {
  episodeOfCare: { type: Coding; kVisitSystem: string; k1PureUpToWeeks: number };
  measurements: Record<string, Measure>;
  obstetric: Record<'gravida' | 'para' | 'abortus' | 'lmp' | 'edd', { key: string; code: Coding }> & { eddDaysAfterLmp: number };
  fetalPresentation: { key: string; code: Coding; values: Record<'cephalic' | 'breech' | 'transverse', Coding> };
  urineProtein: { key: string; code: Coding; values: Record<'negative' | '+1' | '+2' | '+3', Coding> };
  iron: { key: string; medication: Coding; text: string; unit: { unit: string; code: string } };
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

export const ancTable = readMapping<AncTable>('anc.json', (d, fail) => {
  checkCoding(d.episodeOfCare?.type, 'episodeOfCare.type', fail);
  for (const [k, m] of Object.entries(d.measurements ?? {})) checkCoding(m.code, `measurements.${k}.code`, fail);
  for (const k of ['gravida', 'para', 'abortus', 'lmp', 'edd'] as const) checkCoding(d.obstetric?.[k]?.code, `obstetric.${k}.code`, fail);
  for (const [k, c] of Object.entries(d.fetalPresentation?.values ?? {})) checkCoding(c, `fetalPresentation.values.${k}`, fail);
  for (const [k, c] of Object.entries(d.urineProtein?.values ?? {})) checkCoding(c, `urineProtein.values.${k}`, fail);
  checkCoding(d.iron?.medication, 'iron.medication', fail);
});

const HIGH: Coding = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: 'H', display: 'High' };
const CRITICAL_HIGH: Coding = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: 'HH', display: 'Critical high' };
const LOW: Coding = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: 'L', display: 'Low' };
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

/** K1 is K1M (murni) when the first contact is in trimester 1, else K1A (akses). */
function kVisit(r: AncVisitRecord): string | undefined {
  if (!r.visitNumber) return undefined;
  if (r.visitNumber !== 'K1') return r.visitNumber;
  return gestationalAge(r).weeks <= ancTable.episodeOfCare.k1PureUpToWeeks ? 'K1M' : 'K1A';
}

/** The pregnancy's EpisodeOfCare (created once) and the K-visit identifier of the Encounter. */
export const ancEncounter: EncounterContext = (ctx, refs, b) => {
  const r = ctx.record as AncVisitRecord;
  const episode: EpisodeOfCare = {
    resourceType: 'EpisodeOfCare',
    identifier: [{ system: identifierSystem('episodeOfCare', ctx.puskesmas.organizationId), value: pregnancyKey(r) }],
    status: 'active',
    type: [{ coding: [ancTable.episodeOfCare.type] }],
    patient: refs.patient,
    managingOrganization: refs.organization,
    period: { start: `${r.pregnancy.lmp}T00:00:00+00:00` },
  };
  const episodeOfCare = b.createIfMissing('episode-of-care', episode, episode.identifier?.[0] ?? {});
  const k = kVisit(r);
  return { episodeOfCare, ...(k ? { identifiers: [{ system: ancTable.episodeOfCare.kVisitSystem, value: k }] } : {}) };
};

/** One Observation per measurement and obstetric fact; iron tablets as a MedicationDispense. */
export function mapAncVisit(ctx: RecordContext, refs: EnvelopeRefs, b: TransactionBuilder): { anc: AncSummary } {
  const r = ctx.record as AncVisitRecord;
  const t = ancTable;
  const ga = gestationalAge(r);
  const k = kVisit(r);
  const summary: AncSummary = { gestationalAgeWeeks: ga.weeks, gestationalAgeDerived: ga.derived, ...(k ? { visit: k } : {}), findings: [], highRisk: false };
  const riskSources: Array<Reference<Observation>> = [];
  const obs = (key: string, category: string, code: Coding, value: Partial<Observation>): Reference<Observation> =>
    b.upsert(key, { ...observationBase(ctx, refs, key, category), code: { coding: [code] }, ...value });
  const quantity = (field: string, value: number | undefined, interpretation?: { coding: Coding; text: string }) => {
    const m = t.measurements[field];
    if (value === undefined || !m) return;
    const ref = obs(m.key, m.category, m.code, {
      valueQuantity: { value, unit: m.unit.unit, system: fhirCommon.ucum, code: m.unit.code },
      ...(interpretation ? { interpretation: [{ coding: [interpretation.coding], text: interpretation.text }] } : {}),
    });
    if (interpretation && interpretation.coding.code !== 'N') riskSources.push(ref);
  };
  const finding = (measure: string, key: string, id: string, en: string) => summary.findings.push({ measure, key, label: { id, en } });

  // Obstetric status
  const o = t.obstetric;
  for (const f of ['gravida', 'para', 'abortus'] as const) {
    const v = r.pregnancy[f];
    if (v === undefined) continue;
    const ref = obs(o[f].key, 'survey', o[f].code, { valueInteger: v });
    if (f === 'para' && v >= t.risk.parityFrom) {
      finding('para', 'parity', `Sudah ${v} kali melahirkan (≥ ${t.risk.parityFrom})`, `Parity ${v} (≥ ${t.risk.parityFrom})`);
      riskSources.push(ref);
    }
  }
  obs(o.lmp.key, 'survey', o.lmp.code, { valueDateTime: r.pregnancy.lmp });
  const edd = r.pregnancy.edd ?? addDays(r.pregnancy.lmp, o.eddDaysAfterLmp);
  obs(o.edd.key, 'survey', o.edd.code, { valueDateTime: edd });
  quantity('gestationalAgeWeeks', ga.weeks);

  // Measurements and their interpretations
  quantity('weightKg', r.weightKg);
  const short = r.heightCm !== undefined && r.heightCm < t.risk.heightBelowCm;
  if (short) finding('height', 'short-stature', `Tinggi badan < ${t.risk.heightBelowCm} cm`, `Height < ${t.risk.heightBelowCm} cm`);
  quantity('heightCm', r.heightCm, short ? { coding: LOW, text: `< ${t.risk.heightBelowCm} cm` } : undefined);
  const visitDate = localDate(r.occurredAt);
  const ageYears = Math.floor(completedMonths(r.subject.birthDate, visitDate) / 12);
  if (ageYears < t.risk.ageBelowYears) finding('age', 'too-young', `Umur ibu ${ageYears} tahun (< ${t.risk.ageBelowYears})`, `Mother aged ${ageYears} (< ${t.risk.ageBelowYears})`);
  if (ageYears > t.risk.ageAboveYears) finding('age', 'too-old', `Umur ibu ${ageYears} tahun (> ${t.risk.ageAboveYears})`, `Mother aged ${ageYears} (> ${t.risk.ageAboveYears})`);
  if (r.pregnancy.lastDeliveryDate !== undefined) {
    const gap = completedMonths(r.pregnancy.lastDeliveryDate, r.pregnancy.lmp);
    if (gap < t.risk.intervalBelowMonths) finding('interval', 'short-interval', `Jarak kehamilan ${gap} bulan (< 2 tahun)`, `Interval of ${gap} months (< 2 years)`);
  }
  const muacRisk = t.risk.muac;
  if (r.muacCm !== undefined) {
    const kek = r.muacCm < muacRisk.kekBelow;
    const risk = !kek && r.muacCm < muacRisk.riskBelow;
    if (kek) finding('muac', 'kek', 'Kurang energi kronis (KEK)', 'Chronic energy deficiency (KEK)');
    if (risk) finding('muac', 'kek-risk', 'Risiko KEK', 'Risk of KEK');
    quantity('muacCm', r.muacCm, kek ? { coding: muacRisk.kek, text: 'KEK' } : risk ? { coding: muacRisk.risk, text: 'Risiko KEK' } : { coding: NORMAL, text: 'Normal' });
  }
  if (r.systolic !== undefined && r.diastolic !== undefined) {
    const h = t.risk.hypertension;
    const severe = r.systolic >= h.severeSystolicFrom || r.diastolic >= h.severeDiastolicFrom;
    const high = severe || r.systolic >= h.systolicFrom || r.diastolic >= h.diastolicFrom;
    if (severe) finding('bloodPressure', 'severe-hypertension', 'Hipertensi berat', 'Severe hypertension');
    else if (high) finding('bloodPressure', 'hypertension', 'Hipertensi', 'Hypertension');
    const interp = severe ? { coding: CRITICAL_HIGH, text: 'Hipertensi berat' } : high ? { coding: HIGH, text: 'Hipertensi' } : { coding: NORMAL, text: 'Normal' };
    quantity('systolic', r.systolic, interp);
    quantity('diastolic', r.diastolic, interp);
  }
  quantity('fundalHeightCm', r.fundalHeightCm);
  quantity('fetalHeartRate', r.fetalHeartRate);
  if (r.fetalPresentation) {
    const p = t.fetalPresentation;
    obs(p.key, 'exam', p.code, { valueCodeableConcept: { coding: [p.values[r.fetalPresentation]] } });
  }
  if (r.hemoglobinGdl !== undefined) {
    const ageMonths = completedMonths(r.subject.birthDate, localDate(r.occurredAt));
    const a = anaemia(r.hemoglobinGdl, 'female', ageMonths, true);
    if (a) finding('hemoglobin', `anaemia-${a.key}`, a.label.id, a.label.en);
    quantity('hemoglobinGdl', r.hemoglobinGdl, a ? { coding: a.interpretation, text: a.label.id } : { coding: NORMAL, text: 'Normal' });
  }
  const proteinuria = r.urineProtein !== undefined && r.urineProtein !== 'negative';
  const hypertensive = summary.findings.some((f) => f.measure === 'bloodPressure');
  if (proteinuria && hypertensive && ga.weeks >= 20) {
    finding('preeclampsia', 'preeclampsia-suspected', 'Curiga preeklampsia (hipertensi dan protein urin)', 'Suspected pre-eclampsia (hypertension and proteinuria)');
  }
  if (r.urineProtein) {
    const u = t.urineProtein;
    obs(u.key, 'laboratory', u.code, {
      valueCodeableConcept: { coding: [u.values[r.urineProtein]], text: r.urineProtein },
      ...(r.urineProtein !== 'negative' ? { interpretation: [{ coding: [HIGH], text: `Protein urin ${r.urineProtein}` }] } : {}),
    });
  }
  summary.highRisk = summary.findings.length > 0;
  obs('risk-summary', 'survey', t.risk.summary.code, {
    valueBoolean: summary.highRisk,
    ...(summary.highRisk
      ? { interpretation: [{ coding: [HIGH], text: 'Risiko tinggi' }], note: summary.findings.map((f) => ({ text: f.label.id })) }
      : {}),
    ...(riskSources.length > 0 ? { derivedFrom: riskSources } : {}),
  });
  if (r.ironTablets !== undefined && r.ironTablets > 0) {
    const i = t.iron;
    const dispense: MedicationDispense = {
      resourceType: 'MedicationDispense',
      identifier: [{ system: identifierSystem('medicationDispense', ctx.puskesmas.organizationId), value: `${ctx.key}.${i.key}` }],
      status: 'completed',
      medicationCodeableConcept: { coding: [i.medication], text: i.text },
      subject: refs.patient,
      context: refs.encounter,
      quantity: { value: r.ironTablets, unit: i.unit.unit, system: fhirCommon.ucum, code: i.unit.code },
      whenHandedOver: refs.effective,
    };
    b.upsert(i.key, dispense);
  }
  return { anc: summary };
}

function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}
