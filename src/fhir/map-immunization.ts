import type { Coding, Immunization, Procedure, Reference, Practitioner } from '@medplum/fhirtypes';
import { doseTiming, immunizationStatus, schedule, scheduledDose, type ImmunizationStatus } from '../indicators/immunization-schedule.js';
import type { ImmunizationRecord } from '../records/schemas/immunization.js';
import { localDate } from '../records/time.js';
import { givenByHealthWorker, resolveDose, type DoseBasis } from '../records/vaccine-dose.js';
import { plainCoding, vaccineCodings, vaccineTable } from '../records/vaccine-name.js';
import type { TransactionBuilder } from './bundle-builder.js';
import type { EnvelopeRefs, RecordContext } from './map-envelope.js';
import { fhirCommon, identifierSystem } from './terminology.js';
import { checkCoding } from '../tables/read-table.js';
import { defineMapping } from '../tables/registry.js';

type NotGivenReason = NonNullable<ImmunizationRecord['notGivenReason']>;
const NOT_GIVEN_REASONS: NotGivenReason[] = ['postponed', 'refused', 'contraindicated', 'out-of-stock', 'immune'];

interface ImmunizationCodes {
  performerFunction: Record<'administering' | 'ordering' | 'entering', Coding>;
  reportOrigin: { reported: Coding };
  statusReason: Record<NotGivenReason, { coding: Coding[]; text: { id: string; en: string } }>;
  procedure: { category: Coding };
}

const immunizationCodes = defineMapping<ImmunizationCodes>('immunization.json', (d, fail) => {
  for (const k of ['administering', 'ordering', 'entering'] as const) checkCoding(d.performerFunction?.[k], `performerFunction.${k}`, fail);
  checkCoding(d.reportOrigin?.reported, 'reportOrigin.reported', fail);
  checkCoding(d.procedure?.category, 'procedure.category', fail);
  for (const k of NOT_GIVEN_REASONS) {
    const reason = d.statusReason?.[k];
    if (!reason?.coding?.length || !reason.text?.id) fail(`statusReason.${k}`, 'needs coding and text');
    reason.coding.forEach((c, i) => checkCoding(c, `statusReason.${k}.coding[${i}]`, fail));
  }
});

export interface ImmunizationSummary {
  antigen: string;
  name: { id: string; en: string };
  dose: number;
  /** where the dose number came from when the name did not say it */
  doseFrom?: Exclude<DoseBasis, 'name'>;
  timing?: 'on-time' | 'catch-up';
  programme?: string;
  given: boolean;
  /** the child against the schedule on the day of this record, when its earlier doses are known */
  status?: ImmunizationStatus;
}

/**
 * One Immunization per dose, as the official Imunisasi Postman collection (playbook v2.6) writes
 * them: vaccineCode with the KFA product (when the name gives the brand), group and CVX codes; the
 * dose number; the programme reason with on-time or catch-up timing (also for a dose not given);
 * and by who it was:
 * - given by a health worker: AP and the puskesmas, lot, expiry, route and dose volume;
 * - not given: OP and the puskesmas, the reason coded and in words;
 * - reported by a kader (or a health worker without NIK): EP named in words with the puskesmas as
 *   actor, reportOrigin "provider".
 * A dose given also gets the collection's vaccination Procedure. Both hang on the visit's Encounter,
 * whose diagnosis Condition (Z27.8) the envelope writes.
 */
export function mapImmunization(ctx: RecordContext, refs: EnvelopeRefs, b: TransactionBuilder): { immunization: ImmunizationSummary } {
  const r = ctx.record as ImmunizationRecord;
  const read = resolveDose(r, ctx.history?.doses, ctx.key);
  // checks.ts refuses a record whose vaccine or dose cannot be read, with the same history.
  if (!read.ok) throw new Error('mapImmunization called with an unreadable vaccine');
  const { antigen, dose } = read;
  const given = r.status !== 'not-given';
  const givenOn = localDate(r.occurredAt);
  const timing = doseTiming(antigen.key, dose, r.subject.birthDate, givenOn);
  const programme = antigen.reason ?? scheduledDose(antigen.key, dose)?.reason;
  const text = typeof r.vaccine === 'string' ? r.vaccine : `${antigen.name.id} ${dose}`;
  const codes = immunizationCodes();
  const nakes = healthWorker(r, refs);
  const byHealthWorker = givenByHealthWorker(r);

  const reasonCoding: Coding[] = [];
  if (programme) reasonCoding.push({ system: schedule().reasonSystem, code: programme, display: schedule().reasons[programme] });
  // The timing codes are for the routine child programme; a WUS dose has none (nor has the official ANC Postman collection's Td dose).
  if (timing && programme !== 'IM-WUS') {
    const code = timing === 'on-time' ? 'IM-Ideal' : 'IM-Kejar';
    reasonCoding.push({ system: schedule().timingSystem, code, display: schedule().timings[code] });
  }
  const notGiven = codes.statusReason[r.notGivenReason ?? 'postponed'];

  const resource: Immunization = {
    resourceType: 'Immunization',
    identifier: [{ system: identifierSystem('immunization', ctx.puskesmas.organizationId), value: `${ctx.key}.immunization` }],
    status: given ? 'completed' : 'not-done',
    ...(given ? {} : { statusReason: { coding: notGiven.coding.map(plainCoding), text: r.notGivenNote ?? notGiven.text.id } }),
    vaccineCode: { coding: vaccineCodings(antigen, text), text },
    patient: refs.patient,
    encounter: refs.encounter,
    occurrenceDateTime: refs.effective,
    recorded: refs.effective,
    primarySource: true,
    ...(nakes ? {} : { reportOrigin: { coding: [plainCoding(codes.reportOrigin.reported)] } }),
    location: refs.location,
    ...(r.lotNumber ? { lotNumber: r.lotNumber } : {}),
    ...(r.expirationDate ? { expirationDate: r.expirationDate } : {}),
    // What the health worker did with the vial; a kader's report has neither.
    ...(byHealthWorker ? { route: { coding: [plainCoding(vaccineTable().routes[antigen.route] as Coding)] } } : {}),
    ...(byHealthWorker && antigen.doseQuantity
      ? { doseQuantity: { value: antigen.doseQuantity.value, unit: antigen.doseQuantity.unit, system: fhirCommon().ucum, code: antigen.doseQuantity.unit } }
      : {}),
    performer: nakes
      ? [{ function: { coding: [plainCoding(given ? codes.performerFunction.administering : codes.performerFunction.ordering)] }, actor: nakes }, { actor: refs.organization }]
      : [{ function: { coding: [plainCoding(codes.performerFunction.entering)], text: reporterText(r) }, actor: refs.organization }],
    ...(reasonCoding.length > 0 ? { reasonCode: [{ coding: reasonCoding }] } : {}),
    // Dose 0 (the birth dose) is the first of its series; SATUSEHAT wants a positive number (its Neonatus Postman collection sends 1).
    protocolApplied: [{ doseNumberPositiveInt: Math.max(1, dose), ...(dose === 0 ? { series: `${antigen.key.toUpperCase()} dosis 0` } : {}) }],
  };
  b.upsert('immunization', resource);
  if (given) b.upsert('vaccination', vaccinationProcedure(ctx, refs, antigen.procedure));
  const status = statusAfter(ctx, { antigen: antigen.key, dose, given, date: givenOn });
  return {
    immunization: {
      antigen: antigen.key,
      name: antigen.name,
      dose,
      ...(read.basis !== 'name' ? { doseFrom: read.basis } : {}),
      given,
      ...(timing && given ? { timing } : {}),
      ...(programme ? { programme } : {}),
      ...(status ? { status } : {}),
    },
  };
}

/** The health worker of the record as a Practitioner, when they gave their NIK (resolved upstream). */
function healthWorker(r: ImmunizationRecord, refs: EnvelopeRefs): Reference<Practitioner> | undefined {
  const p = refs.practitioner;
  return p && r.performer?.role !== 'kader' && r.performer?.nik !== undefined && p.identifier?.value === r.performer.nik ? p : undefined;
}

/** Who reported the dose, in the words the official Imunisasi Postman collection uses ("Kader Sri M"). */
function reporterText(r: ImmunizationRecord): string {
  const p = r.performer;
  if (!p || p.role === 'kader') return p?.name ? `Kader ${p.name}` : 'Kader';
  return p.name ?? p.role;
}

/** The vaccination as a Procedure of the visit, by the health worker who answers for it. */
function vaccinationProcedure(ctx: RecordContext, refs: EnvelopeRefs, code: Coding): Procedure {
  return {
    resourceType: 'Procedure',
    identifier: [{ system: identifierSystem('procedure', ctx.puskesmas.organizationId), value: `${ctx.key}.vaccination` }],
    status: 'completed',
    category: { coding: [plainCoding(immunizationCodes().procedure.category)] },
    code: { coding: [plainCoding(code)] },
    subject: refs.patient,
    encounter: refs.encounter,
    performedDateTime: refs.effective,
    ...(refs.performer ? { performer: refs.performer.map((actor) => ({ actor })) } : {}),
  };
}

/** The schedule status counting the doses remembered and this one (when given). */
function statusAfter(ctx: RecordContext, current: { antigen: string; dose: number; given: boolean; date: string }): ImmunizationStatus | undefined {
  const doses = ctx.history?.doses;
  if (!doses) return undefined;
  const earlier = Object.entries(doses)
    .filter(([, d]) => d.recordKey !== ctx.key)
    .map(([field, d]) => {
      const [antigen = '', dose = '0'] = field.split('.');
      return { antigen, dose: Number(dose), date: d.date };
    });
  const all = current.given ? [...earlier, current] : earlier;
  return immunizationStatus(ctx.record.subject.birthDate, all, current.date);
}
