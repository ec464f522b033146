import type { Observation, Procedure, Reference } from '@medplum/fhirtypes';
import type { AnthropometryRecord } from '../records/schemas/anthropometry.js';
import type { TransactionBuilder } from './bundle-builder.js';
import type { EnvelopeRefs, RecordContext } from './map-envelope.js';
import { mapGrowth, type GrowthSummary } from './map-growth.js';
import { observationBase } from './observation-base.js';
import { anthropometryTable, fhirCommon, identifierSystem, type QuantityMeasure } from './terminology.js';

/**
 * One Observation per measurement, the growth z-scores derived from them, exclusive breastfeeding
 * and the vitamin A capsule.
 */
export function mapAnthropometry(ctx: RecordContext, refs: EnvelopeRefs, b: TransactionBuilder): { growth: GrowthSummary } {
  const record = ctx.record as AnthropometryRecord;
  const table = anthropometryTable;
  const measured: Partial<Record<string, Reference<Observation>>> = {};
  for (const field of ['weightKg', 'heightCm', 'headCircumferenceCm', 'muacCm'] as const) {
    const value = record[field];
    if (value === undefined) continue;
    const measure = table.measurements[field];
    const code = measure.byPosition ? measure.byPosition[record.position ?? 'standing'] : measure.code;
    if (!code) continue;
    measured[field] = b.upsert(measure.key, {
      ...observationBase(ctx, refs, measure.key, measure.category),
      code: { coding: [code] },
      valueQuantity: quantity(value, measure),
    });
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
  if (record.vitaminA !== undefined) {
    const v = table.vitaminA;
    const procedure: Procedure = {
      resourceType: 'Procedure',
      identifier: [{ system: identifierSystem('procedure', ctx.puskesmas.organizationId), value: `${ctx.key}.${v.key}` }],
      status: 'completed',
      code: { coding: [v.code] },
      subject: refs.patient,
      encounter: refs.encounter,
      performedDateTime: refs.effective,
      usedCode: [{ text: v.capsules[record.vitaminA].id }],
      ...(refs.performer ? { performer: refs.performer.map((actor) => ({ actor })) } : {}),
    };
    b.upsert(v.key, procedure);
  }
  return { growth };
}

function quantity(value: number, measure: QuantityMeasure) {
  return { value, unit: measure.unit.unit, system: fhirCommon.ucum, code: measure.unit.code };
}
