import type { Bundle } from '@medplum/fhirtypes';
import type { Config } from '../config/types.js';
import type { SubjectHistory } from '../indicators/subject-history.js';
import type { CanonicalRecord, RecordKind } from '../records/schemas/index.js';
import { TransactionBuilder } from './bundle-builder.js';
import { ancEncounter, mapAncVisit } from './map-anc.js';
import { mapAnthropometry } from './map-anthropometry.js';
import { mapImmunization } from './map-immunization.js';
import { mapEnvelope, type EncounterContext, type EnvelopeRefs, type RecordContext } from './map-envelope.js';
import { mapScreening } from './map-screening.js';
import { clockOf } from './visit-time.js';

/** Indicators derived while mapping (z-scores, categories), shown to the app with the record. */
export type Indicators = Record<string, unknown>;

interface KindMapping {
  /** entries the visit's Encounter refers to (the ANC EpisodeOfCare), written before it */
  encounter?: EncounterContext;
  /** the kind's own resources; returns the indicators shown to the app */
  map: (ctx: RecordContext, refs: EnvelopeRefs, b: TransactionBuilder) => Indicators;
}

const mappings: Record<RecordKind, KindMapping> = {
  anthropometry: { map: mapAnthropometry },
  'anc-visit': { encounter: ancEncounter, map: mapAncVisit },
  immunization: { map: mapImmunization },
  screening: { map: mapScreening },
};

/**
 * A checked record (posyandu known) → the transaction Bundle every upstream receives. `now` is
 * when Gerbang received it: no time made up for a date-only record is later.
 */
export function mapRecord(
  record: CanonicalRecord,
  source: string,
  facilities: Config['facilities'],
  history?: SubjectHistory,
  now: Date = new Date(),
): { bundle: Bundle; indicators: Indicators } {
  const posyandu = facilities.posyandu[record.posyandu];
  const puskesmas = posyandu ? facilities.puskesmas[posyandu.puskesmas] : undefined;
  if (!posyandu || !puskesmas) throw new Error('mapRecord called with a posyandu that is not in the registry');
  const ctx: RecordContext = {
    record,
    key: `${source}.${record.recordId}`,
    posyanduCode: record.posyandu,
    posyandu,
    puskesmas,
    ...clockOf(posyandu, puskesmas, now),
    ...(history ? { history } : {}),
  };
  const b = new TransactionBuilder(ctx.key);
  const kind = mappings[record.kind];
  const refs = mapEnvelope(ctx, b, kind.encounter);
  const indicators = kind.map(ctx, refs, b);
  return { bundle: b.build(), indicators };
}
