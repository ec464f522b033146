import type { Observation, Reference } from '@medplum/fhirtypes';
import { DAYS_PER_MONTH, MAX_AGE_MONTHS } from '../indicators/growth/age.js';
import { bmiForAge5to19, type BmiForAge } from '../indicators/growth/bmi-for-age-5-19.js';
import { classify, nutritionStatus, referenceRanges, type GrowthIndicator } from '../indicators/growth/nutrition-status.js';
import { kbmTable, weightGainStatus, type WeightGain } from '../indicators/growth/weight-gain.js';
import { computeGrowth } from '../indicators/growth/zscore.js';
import type { AnthropometryRecord } from '../records/schemas/anthropometry.js';
import { localDate } from '../records/time.js';
import { completedMonths } from '../indicators/calendar-age.js';
import type { TransactionBuilder } from './bundle-builder.js';
import { observationBase } from './observation-base.js';
import type { EnvelopeRefs, RecordContext } from './map-envelope.js';
import { fhirCommon } from './terminology.js';

/** What a kader's app can show right after posting: each z-score with its category. */
export interface GrowthSummary {
  ageDays: number;
  correctedHeightCm?: number;
  zScores: Array<{
    indicator: string;
    label: { id: string; en: string };
    z: number;
    category?: string;
    categoryLabel?: { id: string; en: string };
    implausible: boolean;
  }>;
  skipped: Array<{ indicator: string; reason: string }>;
  flags: string[];
  /** N/T against last month's weighing, when the child's history is known */
  weightGain?: WeightGain;
}

const IMPLAUSIBLE_NOTE =
  'Di luar batas biologis WHO: periksa pengukuran. / Outside WHO biologically plausible limits: check the measurement.';

/**
 * The WHO z-scores as Observations (the 2006 standards under five, IMT/U by the 2007 reference from
 * 60 months): SNOMED z-score code, {Zscore} unit, the Permenkes 2/2020 category as interpretation,
 * derivedFrom the measured Observations (as the official PKPR Postman collection's IMT/U).
 */
export function mapGrowth(
  ctx: RecordContext,
  refs: EnvelopeRefs,
  measured: Partial<Record<string, Reference<Observation>>>,
  b: TransactionBuilder,
): GrowthSummary {
  const record = ctx.record as AnthropometryRecord;
  const growth = computeGrowth({
    sex: record.subject.sex,
    birthDate: record.subject.birthDate,
    measuredOn: localDate(record.occurredAt),
    ...(record.weightKg !== undefined ? { weightKg: record.weightKg } : {}),
    ...(record.heightCm !== undefined ? { heightCm: record.heightCm } : {}),
    ...(record.position !== undefined ? { position: record.position } : {}),
    ...(record.headCircumferenceCm !== undefined ? { headCircumferenceCm: record.headCircumferenceCm } : {}),
    ...(record.muacCm !== undefined ? { muacCm: record.muacCm } : {}),
    ...(record.oedema !== undefined ? { oedema: record.oedema } : {}),
  });
  const older = schoolAgeBmi(record, growth.ageDays);
  const zScores: Array<{ indicator: GrowthIndicator; z: number; implausible: boolean }> = [...growth.zScores];
  let skipped: GrowthSummary['skipped'] = growth.skipped;
  if (older !== undefined) {
    // From 60 months IMT/U comes from the 2007 reference: the 2006 one's "too old" is no news.
    skipped = skipped.filter((s) => s.indicator !== 'bmifa');
    if (typeof older === 'string') skipped.push({ indicator: 'bmifa519', reason: older });
    else zScores.push(older);
  }
  const summary: GrowthSummary = { ageDays: growth.ageDays, zScores: [], skipped, flags: growth.flags };
  if (growth.correctedHeightCm !== undefined) summary.correctedHeightCm = Math.round(growth.correctedHeightCm * 10) / 10;
  const table = nutritionStatus();
  for (const z of zScores) {
    const spec = table.indicators[z.indicator];
    const band = classify(z.indicator, z.z);
    summary.zScores.push({
      indicator: z.indicator,
      label: spec.label,
      z: z.z,
      implausible: z.implausible,
      ...(band ? { category: band.key, categoryLabel: band.label } : {}),
    });
    if (spec.send === false || !spec.code) continue;
    const derivedFrom = spec.from.map((f) => measured[f]).filter((r): r is Reference<Observation> => r !== undefined);
    const unit = { unit: table.zScoreUnit.unit, system: fhirCommon().ucum, code: table.zScoreUnit.code };
    const ranges = referenceRanges(z.indicator)?.map((r) => ({
      ...(r.low !== undefined ? { low: { value: r.low, ...unit } } : {}),
      ...(r.high !== undefined ? { high: { value: r.high, ...unit } } : {}),
      text: r.label.id,
    }));
    b.upsert(`z-${z.indicator}`, {
      ...observationBase(ctx, refs, `z-${z.indicator}`, table.category),
      code: { coding: [spec.code] },
      valueQuantity: { value: z.z, ...unit },
      ...(band ? { interpretation: [{ coding: [band.interpretation], text: band.label.id }] } : {}),
      ...(ranges ? { referenceRange: ranges } : {}),
      ...(derivedFrom.length > 0 ? { derivedFrom } : {}),
      ...(z.implausible ? { note: [{ text: IMPLAUSIBLE_NOTE }] } : {}),
    });
  }
  mapWeightGain(ctx, refs, b, summary);
  return summary;
}

/** IMT/U of a child of 60 months or more, when weight and height were measured. */
function schoolAgeBmi(record: AnthropometryRecord, ageDays: number): BmiForAge | string | undefined {
  if (ageDays / DAYS_PER_MONTH < MAX_AGE_MONTHS || record.weightKg === undefined || record.heightCm === undefined) return undefined;
  return bmiForAge5to19(record.subject.sex, ageDays, record.weightKg, record.heightCm, record.oedema === true);
}

/**
 * N/T as the Kemkes "adequate weight gain" Observation (true for N, false for T); a T also as its own
 * status, as the official Gizi Postman collection does.
 */
function mapWeightGain(ctx: RecordContext, refs: EnvelopeRefs, b: TransactionBuilder, summary: GrowthSummary): void {
  const record = ctx.record as AnthropometryRecord;
  const weighings = ctx.history?.weighings;
  if (!weighings || record.weightKg === undefined || summary.ageDays < 0) return;
  const date = localDate(record.occurredAt);
  const own = ctx.key;
  // The record's own earlier version must not count as "last month".
  const history = Object.fromEntries(Object.entries(weighings).filter(([, w]) => w.recordKey !== own));
  const gain = weightGainStatus({ date, weightKg: record.weightKg, ageMonths: completedMonths(record.subject.birthDate, date) }, history);
  summary.weightGain = gain;
  if (gain.status !== 'N' && gain.status !== 'T') return;
  // The official Gizi and Tumbuh Kembang Postman collections give it no derivedFrom; neither does this
  const spec = kbmTable().observation;
  b.upsert('weight-gain', {
    ...observationBase(ctx, refs, 'weight-gain', spec.category),
    code: { coding: [spec.code] },
    valueBoolean: gain.status === 'N',
  });
  if (gain.status !== 'T') return;
  const t = kbmTable().statusT;
  b.upsert(t.key, {
    ...observationBase(ctx, refs, t.key, t.category),
    code: { coding: [t.code] },
    valueCodeableConcept: { coding: [t.value] },
  });
}
