import type { Coding, Observation, Procedure, Reference } from '@medplum/fhirtypes';
import type { AnthropometryRecord } from '../records/schemas/anthropometry.js';
import { localDate } from '../records/time.js';
import { completedMonths } from '../indicators/calendar-age.js';
import { anthropometryTable, MEASUREMENT_FIELDS, valueBand, type QuantityMeasure } from './anthropometry-table.js';
import type { TransactionBuilder } from './bundle-builder.js';
import type { EnvelopeRefs, RecordContext } from './map-envelope.js';
import { mapGrowth, type GrowthSummary } from './map-growth.js';
import { observationBase } from './observation-base.js';
import { fhirCommon, identifierSystem } from './terminology.js';

/**
 * One Observation per measurement (height twice: by position and as generic body height, as the
 * official Gizi and Tumbuh Kembang Postman collections do), the growth z-scores derived from them,
 * exclusive breastfeeding, and the vitamin A capsule as the Gizi collection gives it.
 */
export function mapAnthropometry(ctx: RecordContext, refs: EnvelopeRefs, b: TransactionBuilder): { growth: GrowthSummary } {
  const record = ctx.record as AnthropometryRecord;
  const table = anthropometryTable();
  const ageMonths = completedMonths(record.subject.birthDate, localDate(record.occurredAt));
  const measured: Partial<Record<string, Reference<Observation>>> = {};
  for (const field of MEASUREMENT_FIELDS) {
    const value = record[field];
    if (value === undefined) continue;
    const measure = table.measurements[field];
    const code = measure.byPosition ? measure.byPosition[record.position ?? 'standing'] : measure.code;
    if (!code) continue;
    measured[field] = b.upsert(measure.key, measurement(ctx, refs, measure.key, measure, code, value, ageMonths));
    if (measure.generic) b.upsert(measure.generic.key, measurement(ctx, refs, measure.generic.key, measure, measure.generic.code, value, ageMonths));
  }
  const growth = mapGrowth(ctx, refs, measured, b);
  if (record.exclusiveBreastfeeding !== undefined) {
    const m = table.booleans.exclusiveBreastfeeding;
    b.upsert(m.key, {
      ...observationBase(ctx, refs, m.key, m.category),
      code: { coding: [m.code] },
      valueBoolean: record.exclusiveBreastfeeding,
    });
  }
  if (record.vitaminA !== undefined) mapVitaminA(ctx, refs, b, record.vitaminA);
  return { growth };
}

function measurement(ctx: RecordContext, refs: EnvelopeRefs, key: string, measure: QuantityMeasure, code: Coding, value: number, ageMonths: number): Observation {
  const band = measure.interpretation ? valueBand(measure.interpretation, value, ageMonths) : undefined;
  return {
    ...observationBase(ctx, refs, key, measure.category),
    code: { coding: [code] },
    valueQuantity: { value, unit: measure.unit.unit, system: fhirCommon().ucum, code: measure.unit.code },
    ...(band?.interpretation ? { interpretation: [{ coding: [band.interpretation], text: band.label.id }] } : {}),
  };
}

/** The Procedure and, as its own Observation, how many capsules, where SATUSEHAT has a code for them. */
function mapVitaminA(ctx: RecordContext, refs: EnvelopeRefs, b: TransactionBuilder, colour: 'blue' | 'red'): void {
  const v = anthropometryTable().vitaminA;
  const capsule = v.capsules[colour];
  const procedure: Procedure = {
    resourceType: 'Procedure',
    identifier: [{ system: identifierSystem('procedure', ctx.puskesmas.organizationId), value: `${ctx.key}.${v.key}` }],
    status: 'completed',
    category: { coding: [v.category] },
    code: { coding: [v.code] },
    subject: refs.patient,
    encounter: refs.encounter,
    performedDateTime: refs.effective,
    usedCode: [{ text: capsule.id }],
    ...(refs.practitioner ? { recorder: refs.practitioner } : {}),
    ...(refs.performer ? { performer: refs.performer.map((actor) => ({ actor })) } : {}),
  };
  b.upsert(v.key, procedure);
  if (!capsule.value) return;
  b.upsert(v.count.key, {
    ...observationBase(ctx, refs, v.count.key, v.count.category),
    code: { coding: [v.count.code] },
    valueCodeableConcept: { coding: [capsule.value] },
  });
}
