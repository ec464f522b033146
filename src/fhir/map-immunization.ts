import type { Coding, Immunization } from '@medplum/fhirtypes';
import { doseTiming, immunizationStatus, schedule, scheduledDose, type ImmunizationStatus } from '../indicators/immunization-schedule.js';
import type { ImmunizationRecord } from '../records/schemas/immunization.js';
import { localDate } from '../records/time.js';
import { readVaccine, vaccineCodings, vaccineTable } from '../records/vaccine-name.js';
import type { TransactionBuilder } from './bundle-builder.js';
import type { EnvelopeRefs, RecordContext } from './map-envelope.js';
import { identifierSystem, readMapping } from './terminology.js';

interface ImmunizationCodes {
  performerFunction: Record<'administering' | 'entering', Coding>;
  statusReason: Record<'postponed' | 'refused' | 'contraindicated', Coding[]>;
}

export const immunizationCodes = readMapping<ImmunizationCodes>('immunization.json', (d, fail) => {
  if (!d.performerFunction?.administering || !d.performerFunction.entering) fail('performerFunction', 'administering and entering are required');
  for (const k of ['postponed', 'refused', 'contraindicated'] as const) if (!d.statusReason?.[k]?.length) fail(`statusReason.${k}`, 'is required');
});

export interface ImmunizationSummary {
  antigen: string;
  name: { id: string; en: string };
  dose: number;
  timing?: 'on-time' | 'catch-up';
  programme?: string;
  given: boolean;
  /** the child against the schedule on the day of this record, when its earlier doses are known */
  status?: ImmunizationStatus;
}

/**
 * One Immunization per dose: vaccineCode with the KFA group, CVX (and KFA product) codes, dose
 * number, the routine-programme reason with on-time or catch-up timing, route by vaccine, lot and
 * expiry, who gave it (a kader as entering provider for the puskesmas, a health worker as
 * administering provider), or why it was not given.
 */
export function mapImmunization(ctx: RecordContext, refs: EnvelopeRefs, b: TransactionBuilder): { immunization: ImmunizationSummary } {
  const r = ctx.record as ImmunizationRecord;
  const read = readVaccine(r);
  // checks.ts refuses a record whose vaccine or dose cannot be read.
  if (!read.ok || read.dose === null) throw new Error('mapImmunization called with an unreadable vaccine');
  const { antigen, dose } = read;
  const given = r.status !== 'not-given';
  const givenOn = localDate(r.occurredAt);
  // On time or catch-up is said of a dose that was given.
  const timing = given ? doseTiming(antigen.key, dose, r.subject.birthDate, givenOn) : undefined;
  const programme = antigen.reason ?? scheduledDose(antigen.key, dose)?.reason;
  const text = typeof r.vaccine === 'string' ? r.vaccine : `${antigen.name.id} ${dose}`;
  const codes = immunizationCodes;
  const kader = !r.performer || r.performer.role === 'kader';

  const reasonCoding: Coding[] = [];
  if (programme) reasonCoding.push({ system: schedule.reasonSystem, code: programme, display: schedule.reasons[programme] });
  if (timing && programme !== 'IM-WUS') {
    const code = timing === 'on-time' ? 'IM-Ideal' : 'IM-Kejar';
    reasonCoding.push({ system: schedule.timingSystem, code, display: schedule.timings[code] });
  }

  const resource: Immunization = {
    resourceType: 'Immunization',
    identifier: [{ system: identifierSystem('immunization', ctx.puskesmas.organizationId), value: `${ctx.key}.immunization` }],
    status: given ? 'completed' : 'not-done',
    ...(given ? {} : { statusReason: { coding: codes.statusReason[r.notGivenReason ?? 'postponed'] } }),
    vaccineCode: { coding: vaccineCodings(antigen, text), text },
    patient: refs.patient,
    encounter: refs.encounter,
    occurrenceDateTime: refs.effective,
    recorded: refs.effective,
    primarySource: true,
    location: refs.location,
    ...(r.lotNumber ? { lotNumber: r.lotNumber } : {}),
    ...(r.expirationDate ? { expirationDate: r.expirationDate } : {}),
    ...(given ? { route: { coding: [vaccineTable.routes[antigen.route] as Coding] } } : {}),
    performer: [
      kader
        ? { function: { coding: [codes.performerFunction.entering], text: r.performer?.name ? `Kader ${r.performer.name}` : 'Kader' }, actor: refs.organization }
        : {
            function: { coding: [codes.performerFunction.administering] },
            // The nakes by NIK when they gave it (resolved to their Practitioner by the SATUSEHAT upstream).
            actor: refs.practitioner && r.performer?.nik && refs.practitioner.identifier?.value === r.performer.nik ? refs.practitioner : { display: r.performer?.name ?? r.performer?.role ?? '' },
          },
      ...(kader ? [] : [{ actor: refs.organization }]),
    ],
    ...(reasonCoding.length > 0 ? { reasonCode: [{ coding: reasonCoding }] } : {}),
    // Dose 0 (the birth dose) is the first of its series; SATUSEHAT wants a positive number.
    protocolApplied: [{ doseNumberPositiveInt: Math.max(1, dose), ...(dose === 0 ? { series: `${antigen.key.toUpperCase()} dosis 0` } : {}) }],
  };
  b.upsert('immunization', resource);
  const status = statusAfter(ctx, { antigen: antigen.key, dose, given, date: givenOn });
  return {
    immunization: {
      antigen: antigen.key,
      name: antigen.name,
      dose,
      given,
      ...(timing ? { timing } : {}),
      ...(programme ? { programme } : {}),
      ...(status ? { status } : {}),
    },
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
